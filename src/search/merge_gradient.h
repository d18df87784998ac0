// The merge a gradient search tunes, θ_t = θ₀_t + Σ_i c_{g(t),i} · τ_{i,t} with τ_i = θ_i − θ₀
// (task_arithmetic with one weight per model and tensor group), and the chain rule through it:
// ∂L/∂c_{g,i} = Σ_{t in g} ⟨∂L/∂θ_t, τ_{i,t}⟩, accumulated in f64 while the engine streams the
// gradient tensor by tensor, so no copy of the whole gradient is ever held.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "search/probe_gradient.h"

namespace alloy {

// The base and the fine-tunes' weights as f32, for the tensors the engine reads: a decoder's, or an
// embedding encoder's when `encoder` is set (its probe loss is then InfoNCE on pairs). Task vectors
// are formed in f64 when used (as task_arithmetic forms them), so a merge made here equals the one
// `alloy merge` makes from the same coefficients.
struct MergeInputs {
  ModelConfig config;
  std::optional<EncoderConfig> encoder;
  std::vector<std::string> tensors;  // decoder_tensors(config) (encoder_tensors(*encoder)) order
  std::map<std::string, Shape> shapes;
  std::map<std::string, std::vector<float>> base;
  std::vector<std::map<std::string, std::vector<float>>> models;
  std::vector<std::string> labels;  // the models as the recipe names them, for errors
};

// Reads every decoder tensor of the base and each model; throws Error naming the model and tensor
// when one is missing or has another shape than the base's.
MergeInputs load_merge_inputs(const ModelConfig& config, const WeightSource& base,
                              const std::vector<const WeightSource*>& models, std::vector<std::string> labels);
MergeInputs load_merge_inputs(const EncoderConfig& config, const WeightSource& base,
                              const std::vector<const WeightSource*>& models, std::vector<std::string> labels);

// Which coefficient group a tensor belongs to.
using TensorGroups = std::function<int(const std::string& tensor)>;
// One group for the whole model.
int whole_model_group(const std::string& tensor);
// AdaMerging-style groups: 0 the embedding, 1 + k block k, num_layers + 1 the final norm,
// num_layers + 2 lm_head. Throws Error for a tensor that is none of these.
int layer_group(const std::string& tensor, int64_t num_layers);
int64_t layer_group_count(int64_t num_layers);
std::string layer_group_name(int group, int64_t num_layers);  // "embed", "layer 3", "norm", "lm_head"
// The tensor-name substring that selects the group in a recipe `filter:` ("model.layers.3.").
std::string layer_group_filter(int group, int64_t num_layers);

// c[g * models + i]: model i's weight in group g.
struct Coefficients {
  int64_t groups = 0;
  int64_t models = 0;
  std::vector<double> c;
  Coefficients() = default;
  Coefficients(int64_t groups, int64_t models, double value) : groups(groups), models(models), c(groups * models, value) {}
  double& at(int64_t g, int64_t i) { return c[static_cast<size_t>(g * models + i)]; }
  double at(int64_t g, int64_t i) const { return c[static_cast<size_t>(g * models + i)]; }
};

// θ₀ + Σ_i c_{g,i} τ_i in f64, each element rounded once to f32.
MemoryWeights merged_weights(const MergeInputs& inputs, const Coefficients& c, const TensorGroups& groups);

// The probe objective of the merge at `c` and its gradient with respect to every coefficient.
struct ObjectiveAndGradient {
  double objective = 0;
  Coefficients gradient;
};
ObjectiveAndGradient merge_objective_and_gradient(const MergeInputs& inputs, const Coefficients& c,
                                                  const TensorGroups& groups, const std::vector<ProbeSet>& sets);
double merge_objective(const MergeInputs& inputs, const Coefficients& c, const TensorGroups& groups,
                       const std::vector<ProbeSet>& sets);

}  // namespace alloy
