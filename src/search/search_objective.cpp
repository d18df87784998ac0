#include "search/search_objective.h"

#include "model/decoder.h"
#include "search/probe_passes.h"
#include "util/error.h"

namespace alloy {

namespace {

LossSum set_loss(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks) {
  LossSum total;
  for (const TokenBatch& batch : equal_length_passes(chunks)) {
    const LossSum part = model.loss(batch);
    total.nll += part.nll;
    total.count += part.count;
  }
  return total;
}

}  // namespace

std::vector<double> probe_set_losses(const ModelConfig& config, const WeightSource& weights,
                                     const std::vector<ProbeSet>& probes) {
  DecoderLM<float> model(config, weights);
  std::vector<double> losses;
  for (const ProbeSet& p : probes) {
    const LossSum sum = set_loss(model, p.chunks);
    if (sum.count == 0) fail("probe ", p.written, ": no scored token");
    losses.push_back(sum.mean());
  }
  return losses;
}

double probe_objective(const ModelConfig& config, const WeightSource& weights, const std::vector<ProbeSet>& probes) {
  if (probes.empty()) fail("no probe data: a search learns from probe: texts in the recipe");
  const std::vector<double> losses = probe_set_losses(config, weights, probes);
  double sum = 0;
  for (double l : losses) sum += l;
  return sum / static_cast<double>(losses.size());
}

}  // namespace alloy
