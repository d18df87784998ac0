// Recipe parsing (which keys exist where and what they hold), parameter precedence, and the
// referenced-model list. Typed, located YAML access lives in yaml_reader.cpp.
#include "recipe/recipe.h"

#include <algorithm>

#include "recipe/yaml_reader.h"
#include "tokenizer/chat_template.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {
namespace {

// `embed_slerp` (top level) and `residual_weight` (slices) are known so that they are refused as
// keys with no effect, not as typos: mergekit accepts them and changes nothing.
constexpr std::string_view kNoEffect = "has no effect on a merge; remove the key";
constexpr std::string_view kTopKeys[] = {
    "merge_method", "models",    "slices",           "modules",   "base_model",    "dtype",
    "out_dtype",    "parameters", "tokenizer_source", "tokenizer", "chat_template", "embed_slerp",
    "probe",        "fallback",   "name"};
constexpr std::string_view kModelKeys[] = {"model", "parameters", "probe", "fisher"};
constexpr std::string_view kSliceKeys[] = {"sources", "base_model", "parameters", "residual_weight"};
constexpr std::string_view kSourceKeys[] = {"model", "layer_range", "parameters"};
constexpr std::string_view kModuleKeys[] = {"models", "slices", "parameters"};
// Top-level keys of a mergekit-moe config, which is not a merge recipe.
constexpr std::string_view kMoeKeys[] = {"gate_mode", "experts", "experts_per_token", "shared_experts"};

// `item` with its key path dropped, for messages that already name the keys involved.
YamlItem unnamed(const YamlItem& item) { return YamlItem{item.node, "", item.loc}; }

const YamlItem& required(const YamlReader& r, const YamlFields& f, const YamlItem& parent,
                         std::string_view key) {
  const YamlItem* item = present(f, key);
  if (!item) r.fail_at(parent, cat("missing required key '", key, "'"));
  return *item;
}

ParamMap optional_params(const YamlReader& r, const YamlFields& f) {
  auto it = f.find("parameters");
  return it == f.end() ? ParamMap{} : r.param_map(it->second);
}

DType parse_dtype(const YamlReader& r, const YamlItem& item) {
  std::string name = r.string(item);
  std::optional<DType> d = dtype_from_torch_name(name);
  if (!d)
    r.fail_at(item, cat("unknown dtype '", name, "' (expected bfloat16, float16, float32 or float64)"));
  if (!traits(*d).is_writable_float)
    r.fail_at(item, cat("dtype '", name, "' is not a floating-point type alloy can merge in "
                        "(expected bfloat16, float16, float32 or float64)"));
  return *d;
}

DataPath parse_data_path(const YamlReader& r, const YamlItem& item) {
  DataPath d{r.string(item), item.loc};
  if (d.path.empty()) r.fail_at(item, "must not be empty: give the path of a file");
  return d;
}

InputModel parse_input_model(const YamlReader& r, const YamlItem& item) {
  YamlFields f = r.fields(item, kModelKeys);
  InputModel m;
  m.loc = item.loc;
  m.model = r.model_ref(required(r, f, item, "model"));
  m.parameters = optional_params(r, f);
  if (const YamlItem* p = present(f, "probe")) m.probe = parse_data_path(r, *p);
  if (const YamlItem* p = present(f, "fisher")) m.fisher = parse_data_path(r, *p);
  return m;
}

InputSlice parse_source(const YamlReader& r, const YamlItem& item) {
  YamlFields f = r.fields(item, kSourceKeys);
  InputSlice s;
  s.loc = item.loc;
  s.model = r.model_ref(required(r, f, item, "model"));
  const YamlItem& range = required(r, f, item, "layer_range");
  if (!range.node.IsSequence() || range.node.size() != 2)
    r.fail_at(range, "expected [start, end]: a list of two integers");
  std::vector<YamlItem> ends = r.list(range);
  s.layer_start = r.integer(ends[0]);
  s.layer_end = r.integer(ends[1]);
  if (s.layer_start < 0) r.fail_at(range, cat("start ", s.layer_start, " must not be negative"));
  if (s.layer_end <= s.layer_start)
    r.fail_at(range, cat("[", s.layer_start, ", ", s.layer_end,
                         "] is empty: end must be greater than start (the range is half-open)"));
  s.parameters = optional_params(r, f);
  return s;
}

OutputSlice parse_slice(const YamlReader& r, const YamlItem& item) {
  YamlFields f = r.fields(item, kSliceKeys);
  OutputSlice slice;
  slice.loc = item.loc;
  auto sources = f.find("sources");
  if (sources == f.end()) r.fail_at(item, "missing required key 'sources'");
  for (const YamlItem& e : r.list(sources->second)) slice.sources.push_back(parse_source(r, e));
  if (const YamlItem* base = present(f, "base_model")) slice.base_model = r.model_ref(*base);
  slice.parameters = optional_params(r, f);
  if (auto it = f.find("residual_weight"); it != f.end())
    r.fail_at(unnamed(it->second), cat("residual_weight ", kNoEffect, " (mergekit reads it and uses it nowhere)"));
  return slice;
}

// models: or slices: (not both) of the recipe or of one module.
void parse_layout(const YamlReader& r, const YamlFields& f, std::string_view what,
                  std::vector<InputModel>& models, std::vector<OutputSlice>& slices) {
  const YamlItem* m = present(f, "models");
  const YamlItem* s = present(f, "slices");
  if (m && s) {
    const YamlItem& later = m->loc.line > s->loc.line ? *m : *s;
    r.fail_at(unnamed(later), cat("models: and slices: are both given; ", what, " uses exactly one of them"));
  }
  if (m)
    for (const YamlItem& e : r.list(*m)) models.push_back(parse_input_model(r, e));
  if (s)
    for (const YamlItem& e : r.list(*s)) slices.push_back(parse_slice(r, e));
}

std::vector<OutputModule> parse_modules(const YamlReader& r, const YamlItem& item) {
  std::vector<OutputModule> out;
  const auto entries = r.entries(item);
  if (entries.empty()) r.fail_at(unnamed(item), "modules: is empty: give each module of the model its models: or slices:");
  for (const auto& [name, value] : entries) {
    YamlFields f = r.fields(value, kModuleKeys);
    OutputModule m;
    m.name = name;
    m.loc = value.loc;
    parse_layout(r, f, cat("module '", name, "'"), m.models, m.slices);
    if (m.models.empty() && m.slices.empty())
      r.fail_at(value, "needs models: (whole-module merge) or slices: (layer-wise)");
    m.parameters = optional_params(r, f);
    out.push_back(std::move(m));
  }
  return out;
}

constexpr std::string_view kTokenizerKeys[] = {"source", "pad_to_multiple_of", "tokens"};
constexpr std::string_view kTokenKeys[] = {"source", "force"};
constexpr std::string_view kTokenSourceKeys[] = {"kind", "model", "token_id", "token"};

// A model of the recipe, as a tokenizer setting names it; "model:<path>" is mergekit's spelling
// before July 2024 (spec §1.6), read as <path>.
ModelRef recipe_model(const YamlReader& r, const YamlItem& item, const std::vector<ModelRef>& models) {
  ModelRef ref = r.model_ref(item);
  if (ref.path.rfind("model:", 0) == 0) ref.path.erase(0, 6);
  std::string known;
  for (const ModelRef& m : models) {
    if (m == ref) return m;
    known += cat(known.empty() ? "" : ", ", m.str());
  }
  r.fail_at(item, cat("model '", ref.str(), "' is not among the recipe's models (", known, ")"));
}

TokenizerSettings tokenizer_source(const YamlReader& r, const YamlItem& item, const std::vector<ModelRef>& models) {
  TokenizerSettings t;
  t.loc = item.loc;
  const std::string s = item.node.IsScalar() ? r.string(item) : "";
  if (s == "base") {
    t.source = TokenizerSettings::Source::Base;
  } else if (s == "union") {
    t.source = TokenizerSettings::Source::Union;
  } else {
    t.source = TokenizerSettings::Source::Model;
    t.model = recipe_model(r, item, models);
  }
  return t;
}

TokenSource token_source(const YamlReader& r, const YamlItem& item, const std::vector<ModelRef>& models) {
  TokenSource src;
  if (!item.node.IsMap() || !item.node["kind"]) {
    src.model = recipe_model(r, item, models);
    return src;
  }
  YamlFields f = r.fields(item, kTokenSourceKeys);
  const std::string kind = r.string(*present(f, "kind"));
  const YamlItem* model = present(f, "model");
  const YamlItem* id = present(f, "token_id");
  const YamlItem* token = present(f, "token");
  if (kind == "zero") {
    if (model || id || token) r.fail_at(item, "kind: zero takes no model, token_id or token");
    src.kind = TokenSource::Kind::Zero;
    return src;
  }
  if (kind != "model_token") r.fail_at(item, cat("unknown kind '", kind, "' (expected model_token or zero)"));
  src.kind = TokenSource::Kind::ModelToken;
  if (!model) r.fail_at(item, "kind: model_token needs model:");
  src.model = recipe_model(r, *model, models);
  if ((id != nullptr) == (token != nullptr))
    r.fail_at(item, "kind: model_token needs exactly one of token_id: (a row of that model's embedding) and token:");
  if (id) {
    src.token_id = r.integer(*id);
    if (*src.token_id < 0) r.fail_at(*id, cat("token_id ", *src.token_id, " must not be negative"));
  }
  if (token) src.token = r.string(*token);
  return src;
}

TokenizerSettings tokenizer_block(const YamlReader& r, const YamlItem& item, const std::vector<ModelRef>& models) {
  YamlFields f = r.fields(item, kTokenizerKeys);
  TokenizerSettings t;
  if (const YamlItem* s = present(f, "source")) t = tokenizer_source(r, *s, models);
  t.loc = item.loc;
  if (const YamlItem* pad = present(f, "pad_to_multiple_of")) {
    t.pad_to_multiple_of = r.integer(*pad);
    if (*t.pad_to_multiple_of < 1) r.fail_at(*pad, cat(*t.pad_to_multiple_of, " must be at least 1"));
  }
  if (const YamlItem* tokens = present(f, "tokens"))
    for (const auto& [token, value] : r.entries(*tokens)) {
      YamlFields tf = r.fields(value, kTokenKeys);
      TokenSetting setting;
      setting.token = token;
      setting.loc = value.loc;
      const YamlItem* src = present(tf, "source");
      if (!src) r.fail_at(value, "missing required key 'source'");
      setting.source = token_source(r, *src, models);
      if (const YamlItem* force = present(tf, "force")) setting.force = r.number(*force) != 0;
      t.tokens.push_back(std::move(setting));
    }
  return t;
}

// A mergekit-moe config (gate_mode, experts, ...) has no merge_method; name what it is.
void refuse_moe_config(const YamlReader& r, const YamlItem& root) {
  if (!root.node.IsMap() || root.node["merge_method"]) return;
  for (auto it = root.node.begin(); it != root.node.end(); ++it) {
    const std::string key = it->first.as<std::string>("");
    if (std::find(std::begin(kMoeKeys), std::end(kMoeKeys), key) != std::end(kMoeKeys))
      r.fail_at(YamlItem{it->second, "", SourceLoc{it->first.Mark().line + 1, it->first.Mark().column + 1}},
                cat("this is a mergekit-moe config ('", key, "'), not a merge recipe: run alloy moe ",
                    r.file(), " OUT"));
  }
}

}  // namespace

namespace {

Recipe parse_document(const YamlReader& r, const YamlItem& root, const std::string& text,
                      const std::string& file_name) {
  refuse_moe_config(r, root);
  YamlFields f = r.fields(root, kTopKeys);

  Recipe recipe;
  recipe.file = file_name;
  recipe.source_text = text;
  if (const YamlItem* name = present(f, "name")) {
    recipe.name = r.string(*name);
    recipe.name_loc = name->loc;
    if (recipe.name.empty()) r.fail_at(*name, "must not be empty");
  }

  const YamlItem* method = present(f, "merge_method");
  if (!method) r.fail_at(root, "missing required key 'merge_method'");
  recipe.merge_method = r.string(*method);
  recipe.merge_method_loc = method->loc;
  if (recipe.merge_method.empty()) r.fail_at(*method, "must not be empty");

  parse_layout(r, f, "a recipe", recipe.models, recipe.slices);
  if (const YamlItem* modules = present(f, "modules")) {
    if (!recipe.models.empty() || !recipe.slices.empty())
      r.fail_at(unnamed(*modules), cat("modules: and ", recipe.models.empty() ? "slices:" : "models:",
                                       " are both given; a recipe uses exactly one of models:, slices: and modules:"));
    recipe.modules = parse_modules(r, *modules);
    recipe.modules_loc = modules->loc;
  }
  if (recipe.models.empty() && recipe.slices.empty() && recipe.modules.empty())
    r.fail_at(root, "the recipe needs either models: (whole-model merge) or slices: (layer-wise), or modules: "
                    "(per module of a text + vision model)");

  if (const YamlItem* base = present(f, "base_model")) recipe.base_model = r.model_ref(*base);
  if (const YamlItem* d = present(f, "dtype")) recipe.dtype = parse_dtype(r, *d);
  if (const YamlItem* d = present(f, "out_dtype")) recipe.out_dtype = parse_dtype(r, *d);
  if (auto it = f.find("parameters"); it != f.end()) {
    recipe.parameters = r.param_map(it->second);
    recipe.parameters_loc = it->second.loc;
  }

  if (const YamlItem* p = present(f, "probe")) recipe.probe = parse_data_path(r, *p);
  if (const YamlItem* fb = present(f, "fallback")) {
    recipe.fallback = r.string(*fb);
    recipe.fallback_loc = fb->loc;
  }

  if (const YamlItem* t = present(f, "chat_template")) {
    recipe.chat_template = r.string(*t);
    recipe.chat_template_loc = t->loc;
    if (const std::string why = chat_template_problem(*recipe.chat_template); !why.empty()) r.fail_at(*t, why);
  }
  if (auto it = f.find("embed_slerp"); it != f.end())
    r.fail_at(unnamed(it->second), cat("embed_slerp ", kNoEffect, " (a legacy tokenizer option current mergekit ignores)"));
  const YamlItem* tok_source = present(f, "tokenizer_source");
  const YamlItem* tok_block = present(f, "tokenizer");
  if (tok_source && tok_block)
    r.fail_at(unnamed(tok_source->loc.line > tok_block->loc.line ? *tok_source : *tok_block),
              "tokenizer_source: and tokenizer: are both given; keep one (tokenizer: {source: ...} says both)");
  if (tok_source) recipe.tokenizer = tokenizer_source(r, *tok_source, recipe.referenced_models());
  if (tok_block) recipe.tokenizer = tokenizer_block(r, *tok_block, recipe.referenced_models());
  return recipe;
}

}  // namespace

std::vector<Recipe> parse_recipe_documents(const std::string& text, const std::string& file_name) {
  YamlReader r(file_name);
  const std::vector<YamlItem> roots = r.load_all(text);
  std::vector<Recipe> out;
  for (const YamlItem& root : roots) {
    // One document keeps its text as written; of several, each is written back on its own.
    const std::string own_text = roots.size() == 1 ? text : YAML::Dump(root.node) + "\n";
    out.push_back(parse_document(r, root, own_text, file_name));
  }
  return out;
}

Recipe parse_recipe(const std::string& text, const std::string& file_name) {
  std::vector<Recipe> docs = parse_recipe_documents(text, file_name);
  if (docs.size() > 1)
    fail(docs[1].where(docs[1].merge_method_loc), ": a second YAML document: a multi-stage recipe (mergekit-multi), "
         "which alloy merge runs; here one recipe is expected");
  return std::move(docs.front());
}

Recipe load_recipe(const std::filesystem::path& path) {
  return parse_recipe(read_whole_file(path, "recipe"), path.string());
}

std::vector<Recipe> load_recipe_documents(const std::filesystem::path& path) {
  return parse_recipe_documents(read_whole_file(path, "recipe"), path.string());
}

std::vector<ModelRef> Recipe::referenced_models() const {
  std::vector<ModelRef> out;
  auto add = [&](const ModelRef& m) {
    for (const auto& seen : out)
      if (seen == m) return;
    out.push_back(m);
  };
  auto add_layout = [&](const std::vector<InputModel>& ms, const std::vector<OutputSlice>& ss) {
    for (const auto& m : ms) add(m.model);
    for (const auto& s : ss)
      for (const auto& src : s.sources) add(src.model);
  };
  add_layout(models, slices);
  for (const auto& module : modules) add_layout(module.models, module.slices);
  for (const auto& s : slices)
    if (s.base_model) add(*s.base_model);
  for (const auto& module : modules)
    for (const auto& s : module.slices)
      if (s.base_model) add(*s.base_model);
  if (base_model) add(*base_model);
  return out;
}

std::string TokenizerSettings::source_text() const {
  switch (source) {
    case Source::Base: return "base";
    case Source::Union: return "union";
    case Source::Model: return model.str();
  }
  return {};
}

std::string Recipe::where(SourceLoc loc) const {
  return loc.line > 0 ? cat(file, ":", loc.line) : file;
}

std::optional<double> resolve_parameter(const Recipe& recipe, const OutputSlice* slice,
                                        const ModelRef* model, const std::string& name,
                                        std::string_view tensor_name, double t, const OutputModule* module) {
  auto at = [&](const ParamMap& params) -> std::optional<double> {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return evaluate(it->second, tensor_name, t);
  };
  if (slice) {
    if (model)
      for (const auto& src : slice->sources)
        if (src.model == *model)
          if (auto v = at(src.parameters)) return v;
    if (auto v = at(slice->parameters)) return v;
  } else if (model) {
    for (const auto& m : module ? module->models : recipe.models)
      if (m.model == *model)
        if (auto v = at(m.parameters)) return v;
  }
  if (module)
    if (auto v = at(module->parameters)) return v;
  return at(recipe.parameters);
}

}  // namespace alloy
