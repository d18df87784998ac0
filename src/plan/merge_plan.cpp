#include "plan/merge_plan.h"
#include "plan/parameter_names.h"

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "lora/apply_adapter.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "plan/sequential_statistics.h"
#include "plan/locate_model.h"
#include "stats/probe_kind.h"
#include "stats/statistics_file.h"
#include "tensor/adapted_views.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

std::vector<OutputTensor> MergePlan::outputs() const {
  std::vector<OutputTensor> out;
  out.reserve(jobs.size());
  for (const auto& j : jobs) out.push_back(j.out);
  return out;
}

namespace {

// One output slice after normalisation: `models:` recipes become a single slice over all layers.
struct PlannedSlice {
  const OutputSlice* recipe_slice = nullptr;  // nullptr for a `models:` recipe
  const OutputModule* recipe_module = nullptr;  // its module in a `modules:` recipe, else nullptr
  std::vector<InputSlice> sources;
  std::optional<ModelRef> base;
  SourceLoc loc;
};

// One module of the output (text decoder, vision tower, ...; "default" for a model of one
// module) with its slices after normalisation.
struct PlannedModule {
  std::string name;
  std::vector<PlannedSlice> slices;
  bool sliced = false;  // from slices:, so the output config's layer count is theirs
};

constexpr std::string_view kDefaultModule = "default";

class Planner {
 public:
  Planner(const Recipe& recipe, const PlanOptions& options) : recipe_(recipe), options_(options) {}

  MergePlan run() {
    plan_.method = find_method(recipe_.merge_method);
    if (!plan_.method) {
      std::string known;
      for (const auto& m : method_registry()) known += (known.empty() ? "" : ", ") + m.name;
      fail(recipe_.where(recipe_.merge_method_loc), ": unknown merge_method '", recipe_.merge_method,
           "' (known: ", known, ")");
    }
    choose_fallback();
    check_probe_keys();
    open_models();
    build_vocabulary();
    load_statistics();
    normalize_modules();
    check_base_model();
    const Architecture& arch = plan_.models[plan_.donor].arch;

    // Per module: pre-layer weights come from the first slice's sources, post-layer ones from the
    // last's; each module counts its own output layers.
    std::vector<std::pair<std::string, int>> layer_counts;  // config key, output layers
    for (const PlannedModule& module : modules_) {
      const Architecture& march = module_arch(plan_.models[plan_.donor], module.name);
      const size_t first_job = plan_.jobs.size();
      for (const auto& w : march.pre_weights) add_job(w, w.name, module.slices.front(), -1, 0.0);
      int out_layer = 0;
      for (const auto& slice : module.slices) {
        const int len = slice.sources.front().layer_end - slice.sources.front().layer_start;
        for (int idx = 0; idx < len; ++idx, ++out_layer) {
          double t = len > 1 ? static_cast<double>(idx) / (len - 1) : 1.0;
          for (const auto& w : march.layer_weights) add_job(w, instantiate(w.name, out_layer), slice, idx, t);
        }
      }
      for (const auto& w : march.post_weights) add_job(w, w.name, module.slices.back(), -1, options_.post_weight_t);
      if (module.sliced && !march.num_layers_key.empty()) layer_counts.emplace_back(march.num_layers_key, out_layer);
      std::string prefix;
      for (const auto& m : arch.modules)
        if (m.name == module.name) prefix = m.weight_prefix;
      plan_.modules.push_back({module.name, prefix, out_layer, march.num_layers_key, module.sliced,
                               plan_.jobs.size() - first_job});
    }
    if (!sequential_probes_.empty() && options_.compute_statistics)
      compute_sequential_grams(plan_, sequential_probes_, static_cast<int>(stats_setting("probe_ctx", 128)),
                               static_cast<int64_t>(stats_setting("probe_samples", 0)),
                               static_cast<int>(stats_setting("pair_batch", kDefaultPairBatch)));

    plan_.config = plan_.models[plan_.donor].checkpoint->config();
    if (plan_.vocabulary) json_set_dotted(plan_.config, arch.vocab_size_key, plan_.vocabulary->padded_size);
    for (const auto& [key, layers] : layer_counts) json_set_dotted(plan_.config, key, layers);
    auto merged = std::find_if(plan_.jobs.begin(), plan_.jobs.end(),
                               [](const TensorJob& j) { return traits(j.out.dtype).is_float; });
    if (merged != plan_.jobs.end()) {
      std::string name(traits(merged->out.dtype).torch_name);
      plan_.config["torch_dtype"] = name;
      if (plan_.config.contains("dtype")) plan_.config["dtype"] = name;
    }
    return std::move(plan_);
  }

 private:
  // The model's directory, or with `lora` its adapter's: a local path or a Hub id in the HF cache.
  fs::path locate(const ModelRef& ref, bool lora = false) {
    return locate_model(ref, options_.recipe_dir, recipe_.where(ref.loc), lora);
  }

  void open_models() {
    std::vector<fs::path> paths;
    for (const auto& ref : recipe_.referenced_models()) paths.push_back(locate(ref));
    // GGUF inputs keep llama.cpp's names only when every input is GGUF and so is the output.
    CheckpointOptions open_options;
    open_options.gguf_llama_cpp_names =
        options_.gguf_output && std::all_of(paths.begin(), paths.end(), [](const fs::path& p) {
          return p.extension() == ".gguf";
        });
    size_t next = 0;
    for (const auto& ref : recipe_.referenced_models()) {
      LoadedModel m;
      m.ref = ref;
      m.label = ref.has_lora() ? ref.str() : ref.path;
      const fs::path& path = paths[next++];
      const fs::path adapter = ref.has_lora() ? locate(ref, true) : fs::path();
      try {
        m.checkpoint = ref.has_lora() ? open_with_lora_adapter(path, open_options, adapter)
                                      : Checkpoint::open(path, open_options);
        m.arch = architecture_of(*m.checkpoint);
      } catch (const Error& e) {
        rethrow_with(recipe_.where(ref.loc), e);
      }
      if (!ref.override_architecture.empty()) m.arch.name = ref.override_architecture;
      plan_.models.push_back(std::move(m));
    }
    if (plan_.models.empty()) fail(recipe_.file, ": the recipe references no models");
    plan_.donor = 0;
    if (recipe_.base_model) plan_.donor = model_index(*recipe_.base_model);
    std::vector<std::pair<std::string, Architecture>> archs;
    archs.emplace_back(plan_.models[plan_.donor].label, plan_.models[plan_.donor].arch);
    for (size_t i = 0; i < plan_.models.size(); ++i)
      if (i != plan_.donor) archs.emplace_back(plan_.models[i].label, plan_.models[i].arch);
    check_compatible(archs, options_.allow_crimes);
  }

  // tokenizer_source / tokenizer: the output vocabulary, from every model's tokenizer.json.
  void build_vocabulary() {
    if (!recipe_.tokenizer) return;
    std::vector<VocabInput> inputs;
    for (const LoadedModel& m : plan_.models) {
      const nlohmann::json* size = json_get_dotted(m.checkpoint->config(), m.arch.vocab_size_key);
      try {
        inputs.push_back({m.ref, m.label, m.checkpoint->dir(),
                          read_model_vocabulary(m.checkpoint->dir(), size && size->is_number_integer()
                                                                         ? std::optional<int64_t>(size->get<int64_t>())
                                                                         : std::nullopt)});
      } catch (const Error& e) {
        rethrow_with(cat(recipe_.where(m.ref.loc), ": model '", m.label, "', whose vocabulary the tokenizer settings (",
                         recipe_.where(recipe_.tokenizer->loc), ") merge"), e);
      }
    }
    plan_.vocabulary = std::make_shared<const OutputVocabulary>(
        build_output_vocabulary(recipe_, *recipe_.tokenizer, inputs, plan_.donor));
  }

  // Every model's matrix of an embedding weight laid out in the output vocabulary (each model's
  // own tensor, or its tied stand-in), computed once per tensor name.
  const std::vector<std::shared_ptr<const PermutedRows>>& permuted(const WeightInfo& w, const std::string& name) {
    auto it = permuted_.find(name);
    if (it != permuted_.end()) return it->second;
    std::vector<std::optional<TensorView>> inputs;
    std::vector<std::string> labels;
    for (const LoadedModel& m : plan_.models) {
      const std::string found = find_tensor(*m.checkpoint, w, name);
      inputs.push_back(found.empty() ? std::nullopt : std::optional<TensorView>(m.checkpoint->tensor(found)));
      labels.push_back(m.label);
    }
    auto rows = permute_embeddings(*plan_.vocabulary, inputs, labels, name);
    for (const auto& r : rows)
      if (r) plan_.permuted_rows.push_back(r);
    return permuted_.emplace(name, std::move(rows)).first->second;
  }

  // regmean fits linear-layer weights only; every other tensor is merged by the recipe's fallback:
  // (default linear). Parameters are checked against both methods' names.
  void choose_fallback() {
    const MethodSpec& method = *plan_.method;
    if (method.statistics != "gram") {
      if (recipe_.fallback)
        fail(recipe_.where(recipe_.fallback_loc), ": fallback: not used by ", method.name,
             " (only regmean has tensors it cannot fit): remove the key");
      check_parameter_names(recipe_, method);
      return;
    }
    const std::string name = recipe_.fallback.value_or("linear");
    fallback_ = find_method(name);
    if (!fallback_ || !fallback_->statistics.empty() || name == "passthrough") {
      std::string known;
      for (const auto& m : method_registry())
        if (m.statistics.empty() && m.name != "passthrough") known += (known.empty() ? "" : ", ") + m.name;
      fail(recipe_.where(recipe_.fallback_loc), ": fallback: '", name, "' ",
           fallback_ ? "cannot merge the tensors regmean cannot fit" : "is no merge method", " (use one of: ", known,
           ")");
    }
    // The fallback's parameters that regmean also has take regmean's default (weight: 1).
    fallback_schema_ = *fallback_;
    const auto adopt = [](std::vector<ParamSpec>& params, const std::vector<ParamSpec>& from) {
      for (ParamSpec& p : params)
        for (const ParamSpec& q : from)
          if (q.name == p.name) p = q;
    };
    adopt(fallback_schema_.global_params, method.global_params);
    adopt(fallback_schema_.model_params, method.model_params);
    MethodSpec both = method;
    both.name = cat(method.name, " (with fallback ", name, ")");
    for (const auto& p : fallback_->global_params)
      if (std::none_of(both.global_params.begin(), both.global_params.end(), [&](const auto& q) { return q.name == p.name; }))
        both.global_params.push_back(p);
    for (const auto& p : fallback_->model_params)
      if (std::none_of(both.model_params.begin(), both.model_params.end(), [&](const auto& q) { return q.name == p.name; }))
        both.model_params.push_back(p);
    check_parameter_names(recipe_, both);
  }

  // Whether the recipe's method merges this tensor (its shape and name in the source models, given
  // by their plan index), else the fallback. regmean needs every model's Gram matrix for it.
  bool fits(const Shape& shape, const std::string& tensor, const std::vector<size_t>& models) const {
    if (!fallback_) return true;
    if (shape.size() != 2) return false;
    // Statistics computed later (sequential) or not at all (alloy check): the engine's linear layers.
    if (!engine_linear_.empty()) return engine_linear_.count(tensor) > 0;
    for (size_t m : models) {
      const SafetensorsFile& file = *plan_.statistics[m];
      const SafetensorsEntry* e = file.find(cat(plan_.method->statistics, ".", tensor));
      if (!e || file.view(*e).shape != Shape{shape[1], shape[1]}) return false;
    }
    return true;
  }

  // The evaluation engine's linear-layer weights (those regmean fits when it computes the
  // statistics itself), from the first model's config.
  std::set<std::string> engine_linear_weights() const {
    std::set<std::string> names;
    const Checkpoint& first = *plan_.models.front().checkpoint;
    if (is_encoder_config(first.config())) {
      const auto has = [&](const std::string& n) { return first.has(n); };
      for (const ExpectedTensor& t : encoder_tensors(encoder_config_from_json(first.config(), has)))
        if (t.shape.size() == 2 && t.name.find("embeddings.") == std::string::npos) names.insert(t.name);
      return names;
    }
    for (const ExpectedTensor& t : decoder_tensors(decoder_config_from_json(first.config(), first.has("lm_head.weight"))))
      if (t.shape.size() == 2 && t.name != "model.embed_tokens.weight") names.insert(t.name);
    return names;
  }

  // alloy never accepts and ignores a key: probe data on a method that learns from none is refused.
  void check_probe_keys() const {
    const MethodSpec& method = *plan_.method;
    auto refuse = [&](const DataPath& d, const char* key) {
      if (d.given() && (method.statistics.empty() || (std::string_view(key) == "fisher" && method.statistics != "fisher")))
        fail(recipe_.where(d.loc), ": ", key, ": not used by ", method.name,
             method.statistics.empty() ? " (it learns from no data): remove the key" : ": remove the key");
    };
    refuse(recipe_.probe, "probe");
    for (const auto& m : recipe_.models) {
      refuse(m.probe, "probe");
      refuse(m.fisher, "fisher");
    }
    if (recipe_.modules.empty()) return;
    if (!method.statistics.empty())
      fail(recipe_.where(recipe_.modules_loc), ": ", method.name, " learns from the text decoder's activations, which "
           "alloy computes for whole decoder models only; modules: recipes take methods that learn from no data");
    for (const auto& module : recipe_.modules)
      for (const auto& m : module.models)
        for (const DataPath* d : {&m.probe, &m.fisher})
          if (d->given()) fail(recipe_.where(d->loc), ": ", d == &m.probe ? "probe" : "fisher",
                               ": not used in a modules: recipe: remove the key");
  }

  fs::path locate_file(const DataPath& d, const char* key) const {
    std::error_code ec;
    if (fs::exists(d.path, ec)) return d.path;
    if (!options_.recipe_dir.empty() && fs::exists(options_.recipe_dir / d.path, ec))
      return options_.recipe_dir / d.path;
    fail(recipe_.where(d.loc), ": ", key, ": '", d.path, "' not found (looked in the working directory",
         options_.recipe_dir.empty() ? "" : " and beside the recipe", ")");
  }

  // probe_ctx cuts text and pair_batch groups pairs: a key given for the other kind of probe
  // would act on nothing, so it is refused.
  void check_probe_settings(size_t count, const std::function<fs::path(size_t)>& probe) const {
    for (size_t i = 0; i < count; ++i) {
      if (probe(i).empty()) continue;
      const bool pairs = is_pair_probe(probe(i));
      const char* unused = pairs ? "probe_ctx" : "pair_batch";
      if (recipe_.parameters.count(unused))
        fail(recipe_.where(recipe_.merge_method_loc), ": ", unused, " is not used with ", pairs ? ".jsonl pair" : "text",
             " probes (", probe(i).string(), pairs ? "; pairs are grouped by pair_batch" : "; text is cut by probe_ctx",
             "): remove the key");
    }
  }

  double stats_setting(const std::string& name, double fallback) const {
    auto v = resolve_parameter(recipe_, nullptr, nullptr, name, "", 0.0);
    if (!v)
      for (const auto& spec : plan_.method->global_params)
        if (spec.name == name && spec.default_value) v = spec.default_value;
    return v.value_or(fallback);
  }

  // Each model's statistics file: a precomputed one the recipe names (fisher:), else computed from
  // its probe data (its own probe:, else the top-level one) into the cache directory.
  void load_statistics() {
    const MethodSpec& method = *plan_.method;
    if (method.statistics.empty()) return;
    StatsSettings settings;
    settings.kind = method.statistics == "gram" ? StatsKind::Gram : StatsKind::Fisher;
    settings.ctx = static_cast<int>(stats_setting("probe_ctx", 128));
    settings.samples = static_cast<int64_t>(
        stats_setting(settings.kind == StatsKind::Fisher ? "fisher_samples" : "probe_samples", 0));
    fs::path cache = options_.stats_dir;
    if (cache.empty()) cache = fs::path(recipe_.file + ".alloy-stats");
    // Every model's data is found before any is computed, so a recipe error costs no engine run.
    struct Source {
      fs::path file;   // a precomputed file, used as it is
      fs::path probe;  // else the probe text to compute from
    };
    std::vector<Source> sources;
    for (const auto& m : plan_.models) {
      const InputModel* entry = nullptr;
      for (const auto& im : recipe_.models)
        if (im.model == m.ref) entry = &im;
      if (entry && entry->fisher.given()) {
        if (entry->probe.given())
          fail(recipe_.where(entry->probe.loc), ": model '", m.label, "' names both probe: and fisher: (a precomputed "
               "Fisher file, used as it is); keep one");
        sources.push_back({locate_file(entry->fisher, "fisher"), {}});
        continue;
      }
      DataPath probe = entry && entry->probe.given() ? entry->probe : recipe_.probe;
      if (!probe.given())
        fail(recipe_.where(entry ? entry->loc : m.ref.loc), ": model '", m.label, "' has no probe data, and ",
             method.name, " learns from each model's own: add probe: <text file; .jsonl of query/positive pairs for "
             "an embedding model> to its entry (or a top-level probe:)",
             method.statistics == "fisher" ? ", or fisher: <file from alloy stats fisher>" : "");
      sources.push_back({{}, locate_file(probe, "probe")});
      try {
        check_probe_fits_model(m.checkpoint->config(), sources.back().probe);
      } catch (const Error& e) {
        rethrow_with(cat(recipe_.where(probe.loc), ": model '", m.label, "'"), e);
      }
    }
    check_probe_settings(sources.size(), [&](size_t i) { return sources[i].probe; });
    settings.pair_batch = static_cast<int>(stats_setting("pair_batch", kDefaultPairBatch));
    // RegMean++: each block's statistics depend on the merge below it, so they are computed once
    // the jobs exist (compute_sequential_grams), not per model.
    if (settings.kind == StatsKind::Gram && stats_setting("sequential", 0) != 0) {
      if (!recipe_.slices.empty())
        fail(recipe_.where(recipe_.merge_method_loc), ": regmean with sequential: true merges each block from the "
             "same block of every model; use a models: recipe, not slices:");
      for (size_t i = 0; i < sources.size(); ++i) {
        sequential_probes_.push_back(sources[i].probe);
        plan_.statistics_sources.push_back({plan_.models[i].label, {}, sources[i].probe, false});
      }
      engine_linear_ = engine_linear_weights();
      return;
    }
    for (size_t i = 0; i < sources.size(); ++i) {
      const LoadedModel& m = plan_.models[i];
      StatisticsSource source{m.label, sources[i].file, sources[i].probe, true};
      if (source.file.empty()) {
        source.file = statistics_cache_file(m.checkpoint->dir(), sources[i].probe, settings, cache);
        std::error_code ec;
        source.exists = fs::exists(source.file, ec);
        if (!source.exists && options_.compute_statistics)
          source.file = cached_statistics(m.checkpoint->dir(), sources[i].probe, settings, cache,
                                          [](const std::string& line) { std::cerr << "alloy: " << line << "\n"; });
      }
      plan_.statistics_sources.push_back(source);
      if (!source.exists && !options_.compute_statistics) {
        plan_.statistics.push_back(nullptr);
        engine_linear_ = engine_linear_weights();
        continue;
      }
      try {
        plan_.statistics.push_back(SafetensorsFile::open(source.file));
      } catch (const Error& e) {
        rethrow_with(cat("statistics of model '", m.label, "'"), e);
      }
    }
  }

  size_t model_index(const ModelRef& ref) const {
    for (size_t i = 0; i < plan_.models.size(); ++i)
      if (plan_.models[i].ref == ref) return i;
    fail(recipe_.where(ref.loc), ": model '", ref.str(), "' is not among the recipe's models");
  }

  const LoadedModel& model(const ModelRef& ref) const { return plan_.models[model_index(ref)]; }

  // Module `name` of a model: the model itself when it has one module ("default").
  const Architecture& module_arch(const LoadedModel& m, const std::string& name) const {
    if (m.arch.modules.empty() && name == kDefaultModule) return m.arch;
    for (const auto& module : m.arch.modules)
      if (module.name == name) return module.arch;
    fail(recipe_.where(m.ref.loc), ": model '", m.label, "' (", m.arch.name, ") has no module '", name,
         "' (its modules: ", module_names(m.arch), ")");
  }

  static std::string module_names(const Architecture& a) {
    if (a.modules.empty()) return std::string(kDefaultModule);
    std::string out;
    for (const auto& m : a.modules) out += cat(out.empty() ? "" : ", ", m.name);
    return out;
  }

  // mergekit's normalisation (spec 2.1): models: applies to every module of the architecture;
  // slices: needs a model of one module; modules: names every module of the donor's architecture.
  void normalize_modules() {
    const Architecture& donor = plan_.models[plan_.donor].arch;
    std::vector<std::string> names;
    for (const auto& m : donor.modules) names.push_back(m.name);
    if (names.empty()) names.emplace_back(kDefaultModule);
    if (recipe_.modules.empty()) {
      if (!recipe_.slices.empty() && names.size() > 1)
        fail(recipe_.where(recipe_.slices.front().loc), ": ", donor.name, " has multiple modules (",
             module_names(donor), "), each with its own layers: use modules: with models: or slices: for each "
             "module (docs/architectures.md)");
      for (const auto& name : names)
        modules_.push_back({name, normalize_slices(recipe_.models, recipe_.slices, name, nullptr),
                            !recipe_.slices.empty()});
      return;
    }
    for (const OutputModule& m : recipe_.modules)
      if (std::find(names.begin(), names.end(), m.name) == names.end())
        fail(recipe_.where(m.loc), ": module '", m.name, "' is not a module of ", donor.name, " (",
             donor.description.empty() ? "inferred from tensor names" : "data/architectures/" + donor.description,
             "); its modules: ", module_names(donor));
    for (const auto& name : names) {
      auto it = std::find_if(recipe_.modules.begin(), recipe_.modules.end(),
                             [&](const OutputModule& m) { return m.name == name; });
      if (it == recipe_.modules.end())
        fail(recipe_.where(recipe_.modules_loc), ": modules: has no entry for '", name, "', a module of ", donor.name,
             " (", module_names(donor), "): give it models: or slices: (every module of the output needs its tensors)");
      modules_.push_back({name, normalize_slices(it->models, it->slices, name, &*it), !it->slices.empty()});
    }
  }

  std::vector<PlannedSlice> normalize_slices(const std::vector<InputModel>& models,
                                             const std::vector<OutputSlice>& slices, const std::string& module,
                                             const OutputModule* recipe_module) {
    std::vector<PlannedSlice> out;
    if (!models.empty()) {
      PlannedSlice s;
      s.recipe_module = recipe_module;
      s.base = recipe_.base_model;
      s.loc = models.front().loc;
      for (const auto& im : models) {
        InputSlice src;
        src.model = im.model;
        src.layer_end = module_arch(model(im.model), module).num_layers;
        src.parameters = im.parameters;
        src.loc = im.loc;
        s.sources.push_back(std::move(src));
      }
      bool base_listed = false;
      if (recipe_.base_model)
        for (const auto& src : s.sources) base_listed |= (src.model == *recipe_.base_model);
      if (recipe_.base_model && !base_listed) {
        InputSlice src;
        src.model = *recipe_.base_model;
        src.layer_end = module_arch(model(src.model), module).num_layers;
        src.loc = recipe_.base_model->loc;
        s.sources.push_back(std::move(src));
      }
      for (const auto& src : s.sources)
        if (src.layer_end != s.sources.front().layer_end)
          fail(recipe_.where(src.loc), ": model '", src.model.path, "' has ", src.layer_end, " layers but '",
               s.sources.front().model.path, "' has ", s.sources.front().layer_end,
               module == kDefaultModule ? "" : cat(" in module ", module),
               "; a models: merge needs equal layer counts (use slices: to pick layers)");
      out.push_back(std::move(s));
      return out;
    }
    for (const auto& os : slices) {
      PlannedSlice s;
      s.recipe_slice = &os;
      s.recipe_module = recipe_module;
      s.sources = os.sources;
      s.base = os.base_model ? os.base_model : recipe_.base_model;
      s.loc = os.loc;
      const int len = s.sources.front().layer_end - s.sources.front().layer_start;
      for (const auto& src : s.sources) {
        const int layers = module_arch(model(src.model), module).num_layers;
        if (src.layer_end > layers)
          fail(recipe_.where(src.loc), ": layer_range [", src.layer_start, ", ", src.layer_end, "] of '",
               src.model.path, "' is past its ", layers, " layers",
               module == kDefaultModule ? "" : cat(" in module ", module));
        if (src.layer_end - src.layer_start != len)
          fail(recipe_.where(src.loc), ": all sources of a slice need the same number of layers: this one has ",
               src.layer_end - src.layer_start, ", the first has ", len);
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  void check_base_model() {
    if (plan_.method->base != BaseUse::Required) return;
    for (const auto& module : modules_)
      for (const auto& s : module.slices)
        if (!s.base)
        fail(recipe_.where(recipe_.merge_method_loc), ": merge_method '", plan_.method->name,
             "' needs a base_model");
  }

  std::optional<double> resolve(const PlannedSlice& slice, const ModelRef* ref, const std::string& name,
                                std::string_view tensor, double t) const {
    return resolve_parameter(recipe_, slice.recipe_slice, ref, name, tensor, t, slice.recipe_module);
  }

  DType output_dtype_for(const MergeCall& call) const {
    if (recipe_.out_dtype) return *recipe_.out_dtype;
    if (recipe_.dtype) return *recipe_.dtype;
    const auto& v = call.inputs[call.base >= 0 ? static_cast<size_t>(call.base) : 0].view;
    return traits(v.dtype).is_writable_float ? v.dtype : DType::F32;
  }

  // Finds `name` (or a tied stand-in) in a model; empty when absent.
  static std::string find_tensor(const Checkpoint& ck, const WeightInfo& w, const std::string& name) {
    if (ck.has(name)) return name;
    for (const auto& tied : w.tied_names)
      if (ck.has(tied)) return tied;
    return {};
  }

  void add_job(const WeightInfo& w, const std::string& out_name, const PlannedSlice& slice, int layer_idx,
               double t) {
    struct Source {
      const InputSlice* slice_source;
      const LoadedModel* model;
      std::string tensor;
    };
    std::vector<Source> sources;
    bool any_own_name = false;
    for (const auto& src : slice.sources) {
      const LoadedModel& m = model(src.model);
      std::string name = layer_idx >= 0 ? instantiate(w.name, src.layer_start + layer_idx) : w.name;
      std::string found = find_tensor(*m.checkpoint, w, name);
      any_own_name |= (found == name);
      if (found.empty()) {
        if (w.optional) continue;
        fail("tensor '", name, "' is required but not present in model '", m.label, "'");
      }
      sources.push_back({&src, &m, found});
    }
    if (sources.empty() || (w.optional && !any_own_name)) return;  // e.g. a tied lm_head stays tied
    std::vector<size_t> source_models;
    for (const auto& s : sources) source_models.push_back(static_cast<size_t>(s.model - plan_.models.data()));
    const Shape& shape = sources.front().model->checkpoint->tensor(sources.front().tensor).shape;
    const MethodSpec& method = fits(shape, sources.front().tensor, source_models) ? *plan_.method : *fallback_;
    const MethodSpec& schema = &method == plan_.method ? method : fallback_schema_;

    TensorJob job;
    MergeCall& call = job.call;
    call.tensor_name = out_name;
    call.seed = options_.seed;
    call.is_embed = w.is_embed;
    call.load_dtype = recipe_.dtype;
    int base_index = -1;
    // With a merged vocabulary, embedding rows are read laid out in it (vocab/permuted_embeddings.h).
    auto input_view = [&](const Source& s) {
      if (!w.is_embed || !plan_.vocabulary) return s.model->checkpoint->tensor(s.tensor);
      const std::string name = layer_idx >= 0 ? instantiate(w.name, s.slice_source->layer_start + layer_idx) : w.name;
      return permuted(w, name)[static_cast<size_t>(s.model - plan_.models.data())]->view;
    };
    for (size_t i = 0; i < sources.size(); ++i) {
      const auto& s = sources[i];
      call.inputs.push_back({input_view(s), s.model->label, s.tensor});
      if (base_index < 0 && slice.base && s.slice_source->model == *slice.base) base_index = static_cast<int>(i);
    }
    if (!method.statistics.empty())
      for (const auto& s : sources) {
        const std::string stat_name = method.statistics + "." + s.tensor;
        const auto& file_of_model = plan_.statistics.empty() ? nullptr : plan_.statistics[static_cast<size_t>(s.model - plan_.models.data())];
        if (!file_of_model) {  // computed after planning (sequential), or not computed (alloy check)
          call.statistics.push_back({TensorView{}, s.model->label, stat_name});
          continue;
        }
        const SafetensorsFile& file = *file_of_model;
        const SafetensorsEntry* e = file.find(stat_name);
        call.statistics.push_back({e ? file.view(*e) : TensorView{}, s.model->label, stat_name});
      }
    if (method.base != BaseUse::Ignored) call.base = base_index;
    if (method.base == BaseUse::Required && call.base < 0)
      fail("tensor '", out_name, "': the base model '", slice.base->path, "' does not provide it");

    // Non-float tensors (e.g. BERT position_ids) are copied from the base model, or the first.
    bool all_float = true;
    for (const auto& in : call.inputs) all_float &= traits(in.view.dtype).is_float;
    size_t ref = base_index >= 0 ? static_cast<size_t>(base_index) : 0;
    if (!all_float) {
      job.out = {out_name, call.inputs[ref].view.dtype, call.inputs[ref].view.shape};
      call.inputs = {call.inputs[ref]};
      call.shape = job.out.shape;
      push(std::move(job));
      return;
    }

    call.shape = plan_shape(call, method, w);
    for (const auto& spec : schema.global_params) {
      auto v = resolve(slice, nullptr, spec.name, out_name, t);
      if (!v) v = spec.default_value;
      if (!v && spec.required)
        fail(recipe_.file, ": missing required parameter '", spec.name, "' of ", method.name, " for tensor '",
             out_name, "'");
      call.global[spec.name] = v;
    }
    call.per_model.resize(sources.size());
    for (size_t i = 0; i < sources.size(); ++i) {
      for (const auto& spec : schema.model_params) {
        auto v = resolve(slice, &sources[i].slice_source->model, spec.name, sources[i].tensor, t);
        if (!v) v = spec.default_value;
        bool waived = static_cast<int>(i) == call.base;  // the base model has no task vector
        if (!v && spec.required && !waived)
          fail(recipe_.where(sources[i].slice_source->loc), ": missing required parameter '", spec.name, "' of ",
               method.name, " for model '", sources[i].model->label, "', tensor '", sources[i].tensor, "'",
               method.base == BaseUse::Ignored && slice.base && sources[i].slice_source->model == *slice.base
                   ? " (the base_model is an ordinary input of this method: give it a weight, or drop base_model)"
                   : "");
        call.per_model[i][spec.name] = v;
      }
    }
    job.out = {out_name, output_dtype_for(call), call.shape};
    job.method = &method;
    // A plain passthrough of an unconverted tensor is a byte copy.
    if (method.name == "passthrough" && !call.per_model[0]["scale"] && job.out.dtype == call.inputs[0].view.dtype &&
        !reads_through_view_rows(call.inputs[0].view) && (!recipe_.dtype || dtype_size(*recipe_.dtype) >= dtype_size(job.out.dtype)))
      job.method = nullptr;
    if (job.method && method.check) method.check(call);
    push(std::move(job));
  }

  // Output shape: equal input shapes pass; embeddings of different vocabulary sizes are cropped to
  // the common sub-matrix, or take the base's shape for base-model methods (other models then
  // read the base's rows where they have none); anything else is an error.
  Shape plan_shape(const MergeCall& call, const MethodSpec& method, const WeightInfo& w) const {
    size_t ref = call.base >= 0 ? static_cast<size_t>(call.base) : 0;
    const Shape& ref_shape = call.inputs[ref].view.shape;
    bool equal = true;
    for (const auto& in : call.inputs) equal &= (in.view.shape == ref_shape);
    if (equal) return ref_shape;
    bool all_2d = true;
    for (const auto& in : call.inputs) all_2d &= (in.view.shape.size() == 2);
    if (w.is_embed && all_2d) {
      if (call.base >= 0) return ref_shape;
      Shape common = ref_shape;
      for (const auto& in : call.inputs)
        for (int d = 0; d < 2; ++d) common[d] = std::min(common[d], in.view.shape[d]);
      return common;
    }
    for (const auto& in : call.inputs)
      if (in.view.shape != ref_shape)
        fail("tensor '", in.name, "' in ", in.label, ": shape ", shape_str(in.view.shape), " != ",
             call.base >= 0 ? "base " : "", shape_str(ref_shape), " in ", call.inputs[ref].label);
    return ref_shape;
  }

  void push(TensorJob job) {
    for (const auto& in : job.call.inputs) plan_.input_bytes += in.view.nbytes;
    if (!output_names_.insert(job.out.name).second) fail("output tensor '", job.out.name, "' is produced twice");
    plan_.jobs.push_back(std::move(job));
  }

  const Recipe& recipe_;
  const PlanOptions& options_;
  MergePlan plan_;
  std::vector<PlannedModule> modules_;
  std::set<std::string> output_names_;
  std::map<std::string, std::vector<std::shared_ptr<const PermutedRows>>> permuted_;  // by tensor name
  std::vector<fs::path> sequential_probes_;  // per model, when regmean is sequential
  // The engine's linear-layer weights, which regmean fits when statistics come after planning.
  std::set<std::string> engine_linear_;
  const MethodSpec* fallback_ = nullptr;     // regmean's method for the tensors it cannot fit
  MethodSpec fallback_schema_;               // its parameters, with regmean's defaults for shared ones
};

}  // namespace

MergePlan make_plan(const Recipe& recipe, const PlanOptions& options) { return Planner(recipe, options).run(); }

}  // namespace alloy
