#include "moe/moe_assembly.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "arch/architecture.h"
#include "moe/router_gates.h"
#include "plan/locate_model.h"
#include "recipe/moe_config.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

// The dense MLP's projections and their names in a Mixtral expert.
constexpr const char* kProjections[][2] = {{"gate_proj", "w1"}, {"down_proj", "w2"}, {"up_proj", "w3"}};

std::string layer_name(int64_t layer, const std::string& rest) { return cat("model.layers.", layer, ".", rest); }

bool is_mlp_tensor(const std::string& name) {
  static const std::regex mlp(R"(model\.layers\.\d+\.mlp\..*)");
  return std::regex_match(name, mlp);
}

// Tensors computed here (routers, zero biases), which the jobs view.
struct ComputedTensors {
  std::vector<std::vector<float>> buffers;
  TensorView add(Shape shape, std::vector<float> values) {
    buffers.push_back(std::move(values));
    const auto& b = buffers.back();
    return TensorView{DType::F32, std::move(shape), reinterpret_cast<const std::byte*>(b.data()),
                      b.size() * sizeof(float)};
  }
};

class Assembler {
 public:
  Assembler(const MoeConfig& config, const MoeOptions& options) : config_(config), options_(options) {}

  PreparedMerge run() {
    open_models();
    choose_output();
    check_experts();
    const LoadedModel& base = prepared_.plan.models[0];
    layers_ = base.arch.num_layers;
    hidden_ = base.checkpoint->tensor("model.embed_tokens.weight").shape.at(1);
    if (base.arch.num_layers <= 0) fail(base.label, ": no layers found");

    for (const std::string& name : base.checkpoint->tensor_names())
      if (!is_mlp_tensor(name)) add_copy(name, base, name, std::nullopt);
    const RouterGates gates =
        router_gates(config_, config_.experts, base.checkpoint, layers_, hidden_, options_.merge.seed);
    std::optional<RouterGates> shared_gates;
    if (qwen_) shared_gates = router_gates(config_, config_.shared_experts, base.checkpoint, layers_, hidden_,
                                           options_.merge.seed + 1);
    for (int64_t l = 0; l < layers_; ++l) {
      const std::string router = qwen_ ? "mlp.gate.weight" : "block_sparse_moe.gate.weight";
      add_computed(layer_name(l, router), gates, l);
      for (size_t e = 0; e < config_.experts.size(); ++e)
        for (const auto& [dense, mixtral] : kProjections) {
          const std::string out = qwen_ ? cat("mlp.experts.", e, ".", dense, ".weight")
                                        : cat("block_sparse_moe.experts.", e, ".", mixtral, ".weight");
          add_expert_tensor(layer_name(l, out), config_.experts[e], expert_models_[e], l, dense);
        }
      if (qwen_) {
        for (const auto& [dense, mixtral] : kProjections)
          add_expert_tensor(layer_name(l, cat("mlp.shared_expert.", dense, ".weight")), config_.shared_experts[0],
                            shared_models_[0], l, dense);
        add_computed(layer_name(l, "mlp.shared_expert_gate.weight"), *shared_gates, l);
        for (const char* proj : {"q_proj", "k_proj", "v_proj"}) add_zero_bias(l, proj);
      }
    }
    prepared_.plan.config = output_config();
    prepared_.plan.computed_statistics = std::make_shared<ComputedTensors>(std::move(computed_));
    return std::move(prepared_);
  }

 private:
  size_t open(const ModelRef& ref, SourceLoc loc) {
    if (ref.has_lora())
      fail(config_.where(loc), ": model '", ref.str(), "': LoRA adapters are not supported in MoE configs; merge the "
           "adapter into its model first");
    auto& models = prepared_.plan.models;
    for (size_t i = 0; i < models.size(); ++i)
      if (models[i].ref == ref) return i;
    LoadedModel m;
    m.ref = ref;
    m.label = ref.path;
    const fs::path path = locate_model(ref, fs::absolute(options_.config).parent_path(), config_.where(loc));
    m.checkpoint = Checkpoint::open(path);
    m.arch = architecture_of(*m.checkpoint);
    models.push_back(std::move(m));
    return models.size() - 1;
  }

  void open_models() {
    open(config_.base_model, {});
    for (const MoeExpert& e : config_.experts) expert_models_.push_back(open(e.model, e.loc));
    for (const MoeExpert& e : config_.shared_experts) shared_models_.push_back(open(e.model, e.loc));
    prepared_.plan.donor = 0;
  }

  // Mixtral when it can hold the models (llama or mistral, no shared experts), else Qwen2-MoE,
  // within what the config's architecture: allows.
  void choose_output() {
    const auto allowed = [&](const char* name) {
      return config_.architectures.empty() ||
             std::find(config_.architectures.begin(), config_.architectures.end(), name) != config_.architectures.end();
    };
    std::set<std::string> families;
    for (const LoadedModel& m : prepared_.plan.models) families.insert(m.arch.name);
    const auto only = [&](std::initializer_list<const char*> names) {
      return std::all_of(families.begin(), families.end(), [&](const std::string& f) {
        return std::find_if(names.begin(), names.end(), [&](const char* n) { return f == n; }) != names.end();
      });
    };
    std::string all;
    for (const auto& f : families) all += (all.empty() ? "" : ", ") + f;
    if (allowed("mixtral") && config_.shared_experts.empty() && only({"LlamaForCausalLM", "MistralForCausalLM"})) {
      qwen_ = false;
      return;
    }
    if (allowed("qwen moe") && only({"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"})) {
      if (config_.shared_experts.size() != 1)
        fail(config_.where(config_.experts_loc), ": a Qwen MoE output has exactly one shared expert (shared_experts:), "
             "this config has ", config_.shared_experts.size(),
             allowed("mixtral") ? "; without shared experts the output is Mixtral" : "");
      qwen_ = true;
      return;
    }
    fail(config_.file, ": no MoE output alloy writes fits these models (", all,
         "): Mixtral takes Llama or Mistral models and no shared experts, Qwen MoE takes Llama, Mistral or Qwen2 "
         "models and one shared expert");
  }

  void check_experts() {
    const LoadedModel& base = prepared_.plan.models[0];
    std::vector<size_t> all = expert_models_;
    all.insert(all.end(), shared_models_.begin(), shared_models_.end());
    if (!options_.allow_identical_experts && config_.experts.size() > 1 &&
        std::all_of(expert_models_.begin(), expert_models_.end(), [&](size_t m) { return m == expert_models_[0]; }))
      fail(config_.where(config_.experts_loc), ": every expert is the same model, so the MoE would be that model with "
           "extra steps; pass --i-understand-this-is-not-useful-without-training to build it anyway");
    for (size_t m : all) {
      const LoadedModel& model = prepared_.plan.models[m];
      if (model.arch.num_layers != base.arch.num_layers)
        fail("expert '", model.label, "' has ", model.arch.num_layers, " layers, the base model '", base.label, "' ",
             base.arch.num_layers);
    }
    if (std::log2(config_.experts.size()) != std::floor(std::log2(config_.experts.size())) && options_.merge.notice)
      options_.merge.notice(cat(config_.experts.size(), " experts: llama.cpp runs MoE models whose expert count is a "
                                                         "power of two best"));
  }

  DType output_dtype(DType input) const {
    if (config_.dtype) return *config_.dtype;
    return traits(input).is_writable_float ? input : DType::F32;
  }

  void push(TensorJob job) {
    if (!names_.insert(job.out.name).second) fail("MoE output tensor '", job.out.name, "' twice");
    prepared_.plan.input_bytes += job.call.inputs.front().view.nbytes;
    prepared_.plan.jobs.push_back(std::move(job));
  }

  // `source` of `model` as output tensor `name`, multiplied by `scale` when given; a byte copy when
  // nothing changes.
  void add_copy(const std::string& name, const LoadedModel& model, const std::string& source,
                std::optional<double> scale) {
    add_view(name, model.checkpoint->tensor(source), model.label, source, scale);
  }

  void add_view(const std::string& name, const TensorView& view, const std::string& label, const std::string& source,
                std::optional<double> scale) {
    TensorJob job;
    job.call.tensor_name = name;
    job.call.shape = view.shape;
    job.call.inputs = {{view, label, source}};
    job.call.per_model = {{{"scale", scale}}};
    job.out = {name, traits(view.dtype).is_float ? output_dtype(view.dtype) : view.dtype, view.shape};
    if (scale || job.out.dtype != view.dtype || view.is_encoded()) job.method = find_method("passthrough");
    push(std::move(job));
  }

  void add_expert_tensor(const std::string& name, const MoeExpert& expert, size_t model, int64_t layer,
                         const std::string& projection) {
    const LoadedModel& m = prepared_.plan.models[model];
    const std::string source = layer_name(layer, cat("mlp.", projection, ".weight"));
    const Checkpoint& base = *prepared_.plan.models[0].checkpoint;
    if (!m.checkpoint->has(source)) fail("expert '", m.label, "' has no tensor '", source, "'");
    if (base.has(source) && base.tensor(source).shape != m.checkpoint->tensor(source).shape)
      fail("tensor '", source, "' in expert '", m.label, "' has another shape than in the base model");
    add_copy(name, m, source, projection == "down_proj" ? expert.residual_scale : std::nullopt);
  }

  void add_computed(const std::string& name, const RouterGates& gates, int64_t layer) {
    std::vector<float> rows(gates.row(layer, 0), gates.row(layer, 0) + gates.experts * gates.hidden);
    add_view(name, computed_.add({gates.experts, gates.hidden}, std::move(rows)), "router", name, std::nullopt);
  }

  // Qwen2 attention has q/k/v biases; a Llama or Mistral base has none, so they are zeros.
  void add_zero_bias(int64_t layer, const char* projection) {
    const std::string name = layer_name(layer, cat("self_attn.", projection, ".bias"));
    const Checkpoint& base = *prepared_.plan.models[0].checkpoint;
    if (base.has(name)) return;  // copied with the base's other tensors
    const int64_t rows = base.tensor(layer_name(layer, cat("self_attn.", projection, ".weight"))).shape.at(0);
    add_view(name, computed_.add({rows}, std::vector<float>(static_cast<size_t>(rows), 0.0f)), "zeros", name,
             std::nullopt);
  }

  nlohmann::json output_config() const {
    nlohmann::json c = prepared_.plan.models[0].checkpoint->config();
    const nlohmann::json intermediate = c.value("intermediate_size", nlohmann::json());
    const int n = static_cast<int>(config_.experts.size());
    if (qwen_) {
      c["architectures"] = {"Qwen2MoeForCausalLM"};
      c["model_type"] = "qwen2_moe";
      c["num_experts"] = n;
      c["decoder_sparse_step"] = 1;
      c["norm_topk_prob"] = true;
      c["use_sliding_window"] = false;
      c["sliding_window"] = nullptr;
      c["moe_intermediate_size"] = intermediate;
      c["shared_expert_intermediate_size"] = intermediate;
      c["mlp_only_layers"] = nlohmann::json::array();
    } else {
      c["architectures"] = {"MixtralForCausalLM"};
      c["model_type"] = "mixtral";
      c["num_local_experts"] = n;
      c["sliding_window"] = nullptr;
    }
    c["num_experts_per_tok"] = config_.experts_per_token;
    if (config_.dtype) c["torch_dtype"] = std::string(traits(*config_.dtype).torch_name);
    return c;
  }

  const MoeConfig& config_;
  const MoeOptions& options_;
  PreparedMerge prepared_;
  std::vector<size_t> expert_models_, shared_models_;
  bool qwen_ = false;
  int64_t layers_ = 0, hidden_ = 0;
  ComputedTensors computed_;
  std::set<std::string> names_;
};

std::string moe_card(const MoeConfig& config, const MergePlan& plan, const std::string& name) {
  std::string md = "---\nbase_model:\n";
  for (const auto& m : plan.models) md += cat("- \"", m.label, "\"\n");
  md += cat("library_name: transformers\ntags:\n- moe\n- merge\n- alloy\n---\n# ", name, "\n\n",
            "A Mixture of Experts assembled with `alloy moe` from the MLPs of ", config.experts.size(),
            " dense models, with `", config.base_model.path, "`'s attention, norms and embeddings; ",
            config.experts_per_token, " experts per token. The router was not trained: fine-tune the model before "
            "relying on it.\n\n### Configuration\n\n(also saved as `alloy_moe_config.yml`)\n\n```yaml\n",
            config.source_text, config.source_text.empty() || config.source_text.back() == '\n' ? "" : "\n", "```\n");
  return md;
}

}  // namespace

MergeSummary run_moe(const MoeOptions& options, const std::atomic<bool>* cancel) {
  const MoeConfig config = load_moe_config(options.config);
  const fs::path dest = merge_destination(options.merge.out);
  check_destination(options.merge, dest);  // before the routers' model runs
  raise_open_file_limit();
  PreparedMerge prepared = Assembler(config, options).run();
  // ComputedTensors moved into the plan: its buffers (and the views of them) stay where they are.
  prepared.layout = layout_shards(prepared.plan.outputs(), options.merge.out_shard_size);
  if (options.merge.write_model_card) {
    prepared.extra_files.emplace_back("README.md", moe_card(config, prepared.plan, dest.filename().string()));
    prepared.extra_files.emplace_back("alloy_moe_config.yml", config.source_text);
  }
  return write_merge(options.merge, dest, prepared, cancel);
}

}  // namespace alloy
