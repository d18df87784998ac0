#include "search/search_objective.h"

#include "model/decoder.h"
#include "util/error.h"

namespace alloy {

namespace {

constexpr int64_t kChunksPerPass = 16;

// Runs consecutive chunks of one length as one batch: the loss is a sum over scored tokens, so
// batching changes nothing but speed.
LossSum set_loss(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks) {
  LossSum total;
  for (size_t i = 0; i < chunks.size();) {
    TokenBatch batch;
    batch.seq_len = chunks[i].seq_len;
    size_t j = i;
    for (; j < chunks.size() && j - i < kChunksPerPass && chunks[j].seq_len == batch.seq_len; ++j) {
      batch.tokens.insert(batch.tokens.end(), chunks[j].tokens.begin(), chunks[j].tokens.end());
      batch.targets.insert(batch.targets.end(), chunks[j].targets.begin(), chunks[j].targets.end());
      batch.batch += chunks[j].batch;
    }
    const LossSum part = model.loss(batch);
    total.nll += part.nll;
    total.count += part.count;
    i = j;
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
