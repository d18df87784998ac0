// summarize_gguf: the `alloy inspect` summary of a GGUF model (one file or a split set): its
// general.architecture and <arch>.block_count, tensors with their ggml types, bytes by type, and
// the metadata table (long arrays shortened to their first elements).
#include <string>

#include "cli/inspect.h"
#include "io/gguf_model.h"
#include "util/error.h"

namespace alloy {

namespace {

constexpr uint64_t kJsonArrayElements = 16;  // longer arrays show their count and first elements

nlohmann::ordered_json value_json(const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING: return v.text;
    case GgufType::BOOL: return v.integer != 0;
    case GgufType::F32:
    case GgufType::F64: return v.real;
    case GgufType::U64: return v.unsigned_integer;
    case GgufType::ARRAY: {
      auto elements = nlohmann::ordered_json::array();
      for (uint64_t i = 0; i < v.count && i < kJsonArrayElements; ++i) elements.push_back(value_json(v.element(i)));
      if (v.count <= kJsonArrayElements) return elements;
      return {{"element_type", gguf_type_name(v.element_type)}, {"count", v.count}, {"head", std::move(elements)}};
    }
    default: return v.integer;
  }
}

}  // namespace

CheckpointSummary summarize_gguf(const std::filesystem::path& path) {
  GgufModel model = GgufModel::open(path);
  CheckpointSummary s;
  s.path = path.string();
  s.architecture = model.architecture();
  if (s.architecture.empty()) fail(path.string(), ": no string general.architecture in its metadata");
  if (const GgufValue* layers = model.find_value(s.architecture + ".block_count")) {
    const std::optional<int64_t> n = layers->as_int();
    if (!n || *n < 0 || *n > (int64_t{1} << 30))
      fail(path.string(), ": ", s.architecture, ".block_count is ", gguf_value_text(*layers), ", not a layer count");
    s.num_layers = static_cast<int>(*n);
  }
  s.format = cat("GGUF v", model.files().front()->header().version);
  if (model.files().size() > 1) s.format += cat(", split in ", model.files().size(), " files");
  for (const GgufTensor& t : model.tensors()) {
    const std::string type(ggml_type_name(t.info->type));
    s.tensors.push_back({t.info->name, type, t.info->shape});
    // Element and byte counts are bounded by the file sizes, which were validated: no overflow.
    s.parameter_count += t.info->numel;
    s.bytes_by_dtype[type] += t.info->nbytes;
    s.total_bytes += t.info->nbytes;
  }
  s.tensor_count = s.tensors.size();
  for (const GgufKeyValue& kv : model.metadata())
    s.metadata.push_back({kv.key, std::string(gguf_type_name(kv.value.type)), gguf_value_text(kv.value),
                          value_json(kv.value)});
  return s;
}

}  // namespace alloy
