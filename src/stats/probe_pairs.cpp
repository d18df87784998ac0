#include "stats/probe_pairs.h"

#include <algorithm>

#include "eval/evaluate_pairs.h"
#include "eval/pair_tokens.h"
#include "eval/pairs.h"
#include "model/pair_loss.h"
#include "util/error.h"

namespace alloy {

int64_t PairProbe::total_pairs() const {
  int64_t n = 0;
  for (int64_t p : pairs) n += p;
  return n;
}

PairProbe pair_probe_batches(const EncoderConfig& config, const std::vector<std::vector<int32_t>>& queries,
                             const std::vector<std::vector<int32_t>>& positives, int batch, int64_t max_pairs) {
  if (batch < 2) fail("pair_batch ", batch, " is too small: InfoNCE contrasts each pair with the others of its batch");
  if (queries.size() != positives.size())
    fail("probe pairs: ", queries.size(), " queries for ", positives.size(), " positives");
  size_t n = queries.size();
  if (max_pairs > 0) n = std::min(n, static_cast<size_t>(max_pairs));
  if (n == 0) fail("no probe pair to learn from");
  std::vector<size_t> starts;
  for (size_t s = 0; s < n; s += static_cast<size_t>(batch)) starts.push_back(s);
  if (starts.size() > 1 && n - starts.back() == 1) starts.pop_back();
  PairProbe out;
  for (size_t g = 0; g < starts.size(); ++g) {
    const size_t end = g + 1 < starts.size() ? starts[g + 1] : n;
    const auto first = static_cast<std::ptrdiff_t>(starts[g]), last = static_cast<std::ptrdiff_t>(end);
    out.batches.push_back(pair_batch(config, {queries.begin() + first, queries.begin() + last},
                                     {positives.begin() + first, positives.begin() + last}));
    out.pairs.push_back(last - first);
  }
  return out;
}

PairProbe load_probe_pairs(const std::filesystem::path& model_dir, const EncoderConfig& config,
                           const std::filesystem::path& probe, int batch, int64_t max_pairs) {
  const std::vector<TextPair> pairs = read_pairs(probe);  // its errors name the file and line
  try {
    const PairTokenizer tokenizer(model_dir, config);
    std::vector<std::vector<int32_t>> queries, positives;
    for (const TextPair& p : pairs) {
      queries.push_back(tokenizer.encode(p.query));
      positives.push_back(tokenizer.encode(p.positive));
    }
    PairProbe out = pair_probe_batches(config, queries, positives, batch, max_pairs);
    out.pooling.pooling = sentence_transformers_pooling(model_dir).value_or(Pooling::kMean);
    return out;
  } catch (const Error& e) {
    rethrow_with("probe " + probe.string(), e);
  }
}

}  // namespace alloy
