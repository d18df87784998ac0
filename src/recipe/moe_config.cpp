#include "recipe/moe_config.h"

#include "recipe/yaml_reader.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace {

constexpr std::string_view kKeys[] = {"base_model", "architecture", "gate_mode", "dtype",
                                      "experts_per_token", "experts", "shared_experts"};
constexpr std::string_view kExpertKeys[] = {"source_model", "positive_prompts", "negative_prompts", "noise_scale",
                                            "residual_scale"};

std::vector<std::string> prompts(const YamlReader& r, const YamlFields& f, std::string_view key) {
  std::vector<std::string> out;
  if (const YamlItem* list = present(f, key))
    for (const YamlItem& e : r.list(*list)) out.push_back(r.string(e));
  return out;
}

MoeExpert parse_expert(const YamlReader& r, const YamlItem& item) {
  YamlFields f = r.fields(item, kExpertKeys);
  MoeExpert e;
  e.loc = item.loc;
  const YamlItem* source = present(f, "source_model");
  if (!source) r.fail_at(item, "missing required key 'source_model'");
  e.model = r.model_ref(*source);
  e.positive_prompts = prompts(r, f, "positive_prompts");
  e.negative_prompts = prompts(r, f, "negative_prompts");
  if (const YamlItem* noise = present(f, "noise_scale"))
    r.fail_at(*noise, "is not supported: alloy assembles experts as they are (remove the key, or add the noise to "
                      "the expert model first)");
  if (const YamlItem* scale = present(f, "residual_scale")) e.residual_scale = r.number(*scale);
  return e;
}

GateMode parse_gate_mode(const YamlReader& r, const YamlItem& item) {
  const std::string mode = r.string(item);
  if (mode == "hidden" || mode == "hidden_last") return GateMode::Hidden;
  if (mode == "hidden_avg") return GateMode::HiddenAvg;
  if (mode == "cheap_embed") return GateMode::CheapEmbed;
  if (mode == "random") return GateMode::Random;
  if (mode == "uniform_random") return GateMode::UniformRandom;
  r.fail_at(item, cat("unknown gate_mode '", mode,
                      "' (hidden, hidden_last, hidden_avg, cheap_embed, random or uniform_random)"));
}

}  // namespace

std::string MoeConfig::where(SourceLoc loc) const { return loc.line > 0 ? cat(file, ":", loc.line) : file; }

MoeConfig parse_moe_config(const std::string& text, const std::string& file_name) {
  YamlReader r(file_name);
  const std::vector<YamlItem> roots = r.load_all(text);
  if (roots.size() != 1) r.fail_at(roots[1], "a MoE config is one YAML document");
  const YamlItem& root = roots.front();
  YamlFields f = r.fields(root, kKeys);
  MoeConfig c;
  c.file = file_name;
  c.source_text = text;
  const YamlItem* base = present(f, "base_model");
  if (!base) r.fail_at(root, "missing required key 'base_model'");
  c.base_model = r.model_ref(*base);
  if (const YamlItem* a = present(f, "architecture")) {
    // mergekit-moe picks the output by a case-insensitive prefix of its name.
    std::string prefix = r.string(*a);
    for (char& ch : prefix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::vector<std::string> matched;
    for (const char* name : {"mixtral", "deepseek moe", "qwen moe", "qwen3 moe"})
      if (std::string_view(name).substr(0, prefix.size()) == prefix) matched.push_back(name);
    if (matched.empty())
      r.fail_at(*a, cat("'", prefix, "' names no MoE architecture (Mixtral, DeepSeek MoE, Qwen MoE, Qwen3 MoE)"));
    for (const std::string& name : matched)
      if (name == "mixtral" || name == "qwen moe") c.architectures.push_back(name);
    if (c.architectures.empty())
      r.fail_at(*a, cat("'", prefix, "': alloy writes Mixtral and Qwen MoE (Qwen2-MoE) models; DeepSeek MoE and "
                        "Qwen3 MoE outputs are not supported yet"));
    c.architecture_loc = a->loc;
  }
  if (const YamlItem* g = present(f, "gate_mode")) c.gate_mode = parse_gate_mode(r, *g);
  if (const YamlItem* d = present(f, "dtype")) {
    const std::string name = r.string(*d);
    c.dtype = dtype_from_torch_name(name);
    if (!c.dtype || !traits(*c.dtype).is_writable_float)
      r.fail_at(*d, cat("unknown dtype '", name, "' (bfloat16, float16 or float32)"));
  }
  if (const YamlItem* k = present(f, "experts_per_token")) {
    c.experts_per_token = r.integer(*k);
    c.experts_per_token_loc = k->loc;
    if (c.experts_per_token < 1) r.fail_at(*k, "must be at least 1");
  }
  const YamlItem* experts = present(f, "experts");
  if (!experts) r.fail_at(root, "missing required key 'experts'");
  c.experts_loc = experts->loc;
  for (const YamlItem& e : r.list(*experts)) c.experts.push_back(parse_expert(r, e));
  if (const YamlItem* shared = present(f, "shared_experts"))
    for (const YamlItem& e : r.list(*shared)) c.shared_experts.push_back(parse_expert(r, e));

  if (static_cast<int>(c.experts.size()) < c.experts_per_token)
    fail(c.where(c.experts_per_token_loc.line ? c.experts_per_token_loc : c.experts_loc), ": experts_per_token ",
         c.experts_per_token, " but only ", c.experts.size(), " expert", c.experts.size() == 1 ? "" : "s");
  if (c.prompt_gates()) {
    for (const auto* list : {&c.experts, &c.shared_experts})
      for (const MoeExpert& e : *list)
        if (e.positive_prompts.empty())
          fail(c.where(e.loc), ": expert '", e.model.str(), "' has no positive_prompts, which gate_mode needs to "
               "route to it (or use gate_mode: random)");
    for (size_t i = 1; i < c.experts.size(); ++i)
      if (c.experts[i].positive_prompts != c.experts[0].positive_prompts ||
          c.experts[i].negative_prompts != c.experts[0].negative_prompts)
        return c;
    if (c.experts.size() > 1)
      fail(c.where(c.experts_loc), ": every expert has the same prompts, so the router could not tell them apart; "
           "give each expert the prompts that should reach it");
  }
  return c;
}

MoeConfig load_moe_config(const std::filesystem::path& path) {
  return parse_moe_config(read_whole_file(path, "MoE config"), path.string());
}

}  // namespace alloy
