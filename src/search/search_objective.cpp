#include "search/search_objective.h"

#include "model/decoder.h"
#include "model/encoder.h"
#include "model/pair_loss.h"
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

namespace {

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

}  // namespace

double probe_objective(const ModelConfig& config, const WeightSource& weights, const std::vector<ProbeSet>& probes) {
  if (probes.empty()) fail("no probe data: a search learns from probe: texts in the recipe");
  return mean(probe_set_losses(config, weights, probes));
}

std::vector<double> pair_set_losses(const EncoderConfig& config, const WeightSource& weights,
                                    const std::vector<ProbeSet>& probes) {
  const Encoder<float> model(config, weights);
  std::vector<double> losses;
  for (const ProbeSet& p : probes) {
    const PairProbe& pairs = p.pairs;
    if (pairs.batches.empty()) fail("probe ", p.written, ": no query/positive pair");
    // Each batch's loss is its mean over its pairs; the set's is the mean over all its pairs.
    double sum = 0;
    for (size_t b = 0; b < pairs.batches.size(); ++b)
      sum += pair_info_nce(model, pairs.batches[b], pairs.pooling, pairs.temperature).loss *
             static_cast<double>(pairs.pairs[b]);
    losses.push_back(sum / static_cast<double>(pairs.total_pairs()));
  }
  return losses;
}

double pair_objective(const EncoderConfig& config, const WeightSource& weights, const std::vector<ProbeSet>& probes) {
  if (probes.empty()) fail("no probe data: a search learns from the recipe's probe: files");
  return mean(pair_set_losses(config, weights, probes));
}

double search_objective(const SearchContext& context, const WeightSource& weights) {
  if (context.encoder) return pair_objective(*context.encoder, weights, context.probes);
  return probe_objective(context.config, weights, context.probes);
}

std::string search_objective_text(const SearchContext& context) {
  return context.encoder ? "mean over the probe sets of the mean InfoNCE loss per query/positive pair"
                         : "mean over the probe sets of the mean next-token NLL per token";
}

}  // namespace alloy
