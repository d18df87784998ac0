#include "search/probe_passes.h"

namespace alloy {

std::vector<TokenBatch> equal_length_passes(const std::vector<TokenBatch>& chunks) {
  std::vector<TokenBatch> out;
  for (size_t i = 0; i < chunks.size();) {
    TokenBatch batch;
    batch.seq_len = chunks[i].seq_len;
    size_t j = i;
    for (; j < chunks.size() && j - i < kChunksPerPass && chunks[j].seq_len == batch.seq_len; ++j) {
      batch.tokens.insert(batch.tokens.end(), chunks[j].tokens.begin(), chunks[j].tokens.end());
      batch.targets.insert(batch.targets.end(), chunks[j].targets.begin(), chunks[j].targets.end());
      batch.batch += chunks[j].batch;
    }
    out.push_back(std::move(batch));
    i = j;
  }
  return out;
}

int64_t scored_tokens(const TokenBatch& batch) {
  int64_t n = 0;
  for (int32_t t : batch.targets) n += t >= 0;
  return n;
}

}  // namespace alloy
