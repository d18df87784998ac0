#include "eval/perplexity_chunks.h"

#include "util/error.h"

namespace alloy {

std::vector<ScoredChunk> perplexity_chunks(std::span<const int32_t> tokens, int ctx, int32_t bos) {
  if (ctx < 4) fail("context length ", ctx, " is too short: perplexity needs at least 4 tokens per chunk");
  const size_t n = static_cast<size_t>(ctx);
  const size_t first = n / 2;
  std::vector<ScoredChunk> chunks;
  for (size_t start = 0; start + n <= tokens.size(); start += n) {
    ScoredChunk c;
    c.inputs.assign(tokens.begin() + start, tokens.begin() + start + n);
    c.inputs[0] = bos;
    c.targets.assign(n, kNotScored);
    for (size_t t = first; t + 1 < n; ++t) c.targets[t] = tokens[start + t + 1];
    chunks.push_back(std::move(c));
  }
  return chunks;
}

}  // namespace alloy
