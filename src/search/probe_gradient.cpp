#include "search/probe_gradient.h"

#include "model/pair_loss.h"
#include "search/probe_passes.h"
#include "util/error.h"

namespace alloy {

template <class S>
double probe_objective_and_gradient(const DecoderLM<S>& model, const std::vector<ProbeSet>& probes,
                                    const ScaledGradSink<S>& sink) {
  if (probes.empty()) fail("no probe data: a search learns from probe: texts in the recipe");
  double objective = 0;
  for (const ProbeSet& set : probes) {
    const std::vector<TokenBatch> batches = equal_length_passes(set.chunks);
    int64_t total = 0;
    for (const TokenBatch& b : batches) total += scored_tokens(b);
    if (total == 0) fail("probe ", set.written, ": no scored token");
    double nll = 0;
    for (const TokenBatch& b : batches) {
      const int64_t n = scored_tokens(b);
      if (n == 0) continue;
      // The engine's gradient is of the batch's own mean NLL; its share of the objective is
      // n / total of this set's mean, which counts 1 / (number of sets).
      const double scale = static_cast<double>(n) / static_cast<double>(total) / static_cast<double>(probes.size());
      nll += model.loss_and_gradient(b, [&](const std::string& name, std::span<const S> g) { sink(name, g, scale); }).nll;
    }
    objective += nll / static_cast<double>(total);
  }
  return objective / static_cast<double>(probes.size());
}

template <class S>
double pair_objective_and_gradient(const Encoder<S>& model, const std::vector<ProbeSet>& probes,
                                   const ScaledGradSink<S>& sink) {
  if (probes.empty()) fail("no probe data: a search learns from the recipe's probe: files");
  double objective = 0;
  for (const ProbeSet& set : probes) {
    const PairProbe& pairs = set.pairs;
    const int64_t total = pairs.total_pairs();
    if (total == 0) fail("probe ", set.written, ": no query/positive pair");
    double sum = 0;
    for (size_t b = 0; b < pairs.batches.size(); ++b) {
      const double share = static_cast<double>(pairs.pairs[b]) / static_cast<double>(total);
      const double scale = share / static_cast<double>(probes.size());
      const GradSink<S> scaled = [&](const std::string& name, std::span<const S> g) { sink(name, g, scale); };
      sum += share * pair_info_nce(model, pairs.batches[b], pairs.pooling, pairs.temperature, &scaled).loss;
    }
    objective += sum;
  }
  return objective / static_cast<double>(probes.size());
}

template double pair_objective_and_gradient(const Encoder<float>&, const std::vector<ProbeSet>&,
                                            const ScaledGradSink<float>&);
template double pair_objective_and_gradient(const Encoder<double>&, const std::vector<ProbeSet>&,
                                            const ScaledGradSink<double>&);

template double probe_objective_and_gradient(const DecoderLM<float>&, const std::vector<ProbeSet>&,
                                             const ScaledGradSink<float>&);
template double probe_objective_and_gradient(const DecoderLM<double>&, const std::vector<ProbeSet>&,
                                             const ScaledGradSink<double>&);

}  // namespace alloy
