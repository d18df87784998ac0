#include "eval/perplexity.h"

#include <algorithm>

#include "eval/perplexity_chunks.h"
#include "util/error.h"

namespace alloy {

int default_chunks_per_pass(const ModelConfig& c, int ctx) {
  // The widest activations per token: the logits, or the MLP's gate and up projections.
  const int64_t floats_per_token = std::max(c.vocab_size, 3 * c.intermediate_size + 4 * c.hidden_size);
  const int64_t bytes_per_chunk = floats_per_token * ctx * static_cast<int64_t>(sizeof(float));
  const int64_t budget = int64_t{256} << 20;
  return static_cast<int>(std::clamp<int64_t>(budget / std::max<int64_t>(bytes_per_chunk, 1), 1, 64));
}

PerplexityCell perplexity(const DecoderLM<float>& model, std::span<const int32_t> tokens, int32_t bos,
                          const PerplexityOptions& options) {
  std::vector<ScoredChunk> chunks = perplexity_chunks(tokens, options.ctx, bos);
  if (chunks.empty())
    fail("the text has ", tokens.size(), " tokens, fewer than one chunk of --ctx ", options.ctx);
  const int per_pass = options.batch > 0 ? options.batch : default_chunks_per_pass(model.config(), options.ctx);
  PerplexityCell cell;
  const int64_t total = static_cast<int64_t>(chunks.size());
  for (int64_t first = 0; first < total; first += per_pass) {
    const int64_t n = std::min<int64_t>(per_pass, total - first);
    TokenBatch batch;
    batch.batch = n;
    batch.seq_len = options.ctx;
    for (int64_t i = first; i < first + n; ++i) {
      batch.tokens.insert(batch.tokens.end(), chunks[i].inputs.begin(), chunks[i].inputs.end());
      batch.targets.insert(batch.targets.end(), chunks[i].targets.begin(), chunks[i].targets.end());
    }
    LossSum loss = model.loss(batch);
    cell.nll_sum += loss.nll;
    cell.tokens += loss.count;
    if (options.progress) options.progress(first + n, total);
  }
  return cell;
}

}  // namespace alloy
