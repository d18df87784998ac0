#include "lora/adapter_tensor_name.h"

#include <string_view>
#include <utility>

#include "util/error.h"

namespace alloy {

namespace {

// Strips `suffix` or `suffix` with ".default" before its last part ("lora_A.weight",
// "lora_A.default.weight"; "lora_embedding_A", "lora_embedding_A.default").
bool strip(std::string& s, std::string_view part, std::string_view tail) {
  for (const std::string& suffix : {cat(".", part, tail), cat(".", part, ".default", tail)})
    if (s.size() > suffix.size() && s.ends_with(suffix)) {
      s.resize(s.size() - suffix.size());
      return true;
    }
  return false;
}

}  // namespace

AdapterTensorName parse_adapter_tensor_name(const std::string& name, const std::filesystem::path& file) {
  constexpr std::string_view kPrefix = "base_model.model.";
  if (!name.starts_with(kPrefix))
    fail(file.string(), ": tensor '", name, "' does not start with '", kPrefix,
         "', the prefix PEFT gives adapter tensors; is this a PEFT LoRA adapter?");
  AdapterTensorName out;
  std::string rest = name.substr(kPrefix.size());
  using K = AdapterTensorName::Kind;
  for (auto [kind, part, tail] : {std::tuple{K::A, "lora_A", ".weight"}, std::tuple{K::B, "lora_B", ".weight"},
                                  std::tuple{K::EmbeddingA, "lora_embedding_A", ""},
                                  std::tuple{K::EmbeddingB, "lora_embedding_B", ""}})
    if (strip(rest, part, tail)) {
      out.kind = kind;
      out.module = std::move(rest);
      return out;
    }
  if (rest.find("lora_") != std::string::npos)
    fail(file.string(), ": tensor '", name, "' is a LoRA part alloy does not apply (only lora_A/lora_B weights and "
         "lora_embedding_A/B of the adapter 'default'; no lora_B.bias, no DoRA magnitude vectors)");
  // A modules_to_save tensor: "<module>.modules_to_save.default.<param>" or, as PEFT saves it,
  // "<module>.<param>".
  constexpr std::string_view kSaved = ".modules_to_save.default.";
  if (size_t at = rest.find(kSaved); at != std::string::npos) {
    out.module = rest.substr(0, at);
    out.param = rest.substr(at + kSaved.size());
  } else {
    size_t dot = rest.rfind('.');
    if (dot == std::string::npos || dot == 0)
      fail(file.string(), ": tensor '", name, "' names no module; expected base_model.model.<module>.<parameter>");
    out.module = rest.substr(0, dot);
    out.param = rest.substr(dot + 1);
  }
  if (out.module.empty() || out.param.empty() || out.param.find('.') != std::string::npos)
    fail(file.string(), ": tensor '", name, "' names no module; expected base_model.model.<module>.<parameter>");
  return out;
}

}  // namespace alloy
