#include "search/merge_gradient.h"

#include <string_view>

#include "model/decoder.h"
#include "model/encoder.h"
#include "search/search_objective.h"
#include "util/error.h"

namespace alloy {

namespace {

// `in` with `tensors` of the base and each model read into it.
MergeInputs load_tensors(MergeInputs in, const std::vector<ExpectedTensor>& tensors, const WeightSource& base,
                         const std::vector<const WeightSource*>& models, std::vector<std::string> labels) {
  if (models.empty()) fail("a search needs at least one model beside the base");
  if (labels.size() != models.size()) fail("load_merge_inputs: ", labels.size(), " labels for ", models.size(), " models");
  in.labels = std::move(labels);
  in.models.resize(models.size());
  require_tensors(base, tensors, "the base model");
  for (const ExpectedTensor& t : tensors) {
    in.tensors.push_back(t.name);
    in.shapes[t.name] = t.shape;
    const Weight b = base.get(t.name);
    in.base[t.name].assign(b.values.begin(), b.values.end());
    for (size_t i = 0; i < models.size(); ++i) {
      if (!models[i]->has(t.name)) fail(in.labels[i], ": tensor ", t.name, " is missing (the base has it)");
      const Weight w = models[i]->get(t.name);
      if (w.shape != t.shape)
        fail(in.labels[i], ": tensor ", t.name, " has shape ", shape_str(w.shape), ", the base's is ", shape_str(t.shape));
      in.models[i][t.name].assign(w.values.begin(), w.values.end());
    }
  }
  return in;
}

}  // namespace

MergeInputs load_merge_inputs(const ModelConfig& config, const WeightSource& base,
                              const std::vector<const WeightSource*>& models, std::vector<std::string> labels) {
  MergeInputs in;
  in.config = config;
  return load_tensors(std::move(in), decoder_tensors(config), base, models, std::move(labels));
}

MergeInputs load_merge_inputs(const EncoderConfig& config, const WeightSource& base,
                              const std::vector<const WeightSource*>& models, std::vector<std::string> labels) {
  MergeInputs in;
  in.encoder = config;
  return load_tensors(std::move(in), encoder_tensors(config), base, models, std::move(labels));
}

int whole_model_group(const std::string&) { return 0; }

int layer_group(const std::string& tensor, int64_t num_layers) {
  if (tensor.find("embed_tokens") != std::string::npos) return 0;
  if (tensor.rfind("model.norm.", 0) == 0) return static_cast<int>(num_layers + 1);
  if (tensor.rfind("lm_head.", 0) == 0) return static_cast<int>(num_layers + 2);
  const std::string_view prefix = "model.layers.";
  if (tensor.rfind(prefix, 0) == 0) {
    const int64_t layer = std::stoll(tensor.substr(prefix.size()));
    if (layer >= 0 && layer < num_layers) return static_cast<int>(1 + layer);
  }
  fail("tensor ", tensor, " is in no layer group (embedding, model.layers.N, final norm or lm_head)");
}

int64_t layer_group_count(int64_t num_layers) { return num_layers + 3; }

std::string layer_group_name(int group, int64_t num_layers) {
  if (group == 0) return "embed";
  if (group == num_layers + 1) return "norm";
  if (group == num_layers + 2) return "lm_head";
  return cat("layer ", group - 1);
}

std::string layer_group_filter(int group, int64_t num_layers) {
  if (group == 0) return "model.embed_tokens.";
  if (group == num_layers + 1) return "model.norm.";
  if (group == num_layers + 2) return "lm_head.";
  return layer_prefix(group - 1);
}

namespace {

void check_coefficients(const MergeInputs& inputs, const Coefficients& c, const TensorGroups& groups) {
  if (c.models != static_cast<int64_t>(inputs.models.size()) || c.c.size() != static_cast<size_t>(c.groups * c.models))
    fail("coefficients for ", c.models, " models, the search has ", inputs.models.size());
  for (const std::string& name : inputs.tensors) {
    const int g = groups(name);
    if (g < 0 || g >= c.groups) fail("tensor ", name, " is in group ", g, ", the coefficients have ", c.groups);
  }
}

}  // namespace

MemoryWeights merged_weights(const MergeInputs& inputs, const Coefficients& c, const TensorGroups& groups) {
  check_coefficients(inputs, c, groups);
  MemoryWeights out;
  for (const std::string& name : inputs.tensors) {
    const int g = groups(name);
    const std::vector<float>& base = inputs.base.at(name);
    std::vector<float> merged(base.size());
    for (size_t k = 0; k < base.size(); ++k) {
      double mixed = 0;
      for (size_t i = 0; i < inputs.models.size(); ++i)
        mixed += c.at(g, static_cast<int64_t>(i)) * (double(inputs.models[i].at(name)[k]) - double(base[k]));
      merged[k] = static_cast<float>(double(base[k]) + mixed);
    }
    out.set(name, inputs.shapes.at(name), std::move(merged));
  }
  return out;
}

ObjectiveAndGradient merge_objective_and_gradient(const MergeInputs& inputs, const Coefficients& c,
                                                  const TensorGroups& groups, const std::vector<ProbeSet>& sets) {
  const MemoryWeights weights = merged_weights(inputs, c, groups);
  ObjectiveAndGradient out;
  out.gradient = Coefficients(c.groups, c.models, 0.0);
  ScaledGradSink<float> sink = [&](const std::string& name, std::span<const float> grad, double scale) {
    const int g = groups(name);
    const std::vector<float>& base = inputs.base.at(name);
    for (size_t i = 0; i < inputs.models.size(); ++i) {
      const std::vector<float>& m = inputs.models[i].at(name);
      double dot = 0;
      for (size_t k = 0; k < grad.size(); ++k) dot += double(grad[k]) * (double(m[k]) - double(base[k]));
      out.gradient.at(g, static_cast<int64_t>(i)) += scale * dot;
    }
  };
  if (inputs.encoder)
    out.objective = pair_objective_and_gradient(Encoder<float>(*inputs.encoder, weights), sets, sink);
  else
    out.objective = probe_objective_and_gradient(DecoderLM<float>(inputs.config, weights), sets, sink);
  return out;
}

double merge_objective(const MergeInputs& inputs, const Coefficients& c, const TensorGroups& groups,
                       const std::vector<ProbeSet>& sets) {
  const MemoryWeights weights = merged_weights(inputs, c, groups);
  if (inputs.encoder) return pair_objective(*inputs.encoder, weights, sets);
  return probe_objective(inputs.config, weights, sets);
}

}  // namespace alloy
