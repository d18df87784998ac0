#include "stats/pair_statistics.h"

#include <cblas.h>

#include "model/pair_loss.h"
#include "util/error.h"

namespace alloy {

Statistics pair_gram_statistics(const Encoder<float>& model, const PairProbe& probe,
                                const std::function<bool(const std::string&)>& keep) {
  std::map<std::string, std::pair<int64_t, std::vector<double>>> sums;  // name -> (in, upper triangle of Σ XᵀX)
  std::vector<double> x64;
  const EncoderBatch* batch = nullptr;
  Taps<float> taps;
  taps.linear_input = [&](const std::string& weight, std::span<const float> x, int64_t rows, int64_t cols) {
    if (keep && !keep(weight)) return;
    if (rows != static_cast<int64_t>(batch->mask.size()))
      fail("tap of ", weight, ": ", rows, " rows for a batch of ", batch->mask.size(), " token slots");
    auto& [in, g] = sums[weight];
    if (g.empty()) {
      in = cols;
      g.assign(static_cast<size_t>(cols * cols), 0.0);
    }
    x64.clear();
    int64_t real = 0;
    for (int64_t r = 0; r < rows; ++r) {
      if (!batch->mask[static_cast<size_t>(r)]) continue;  // padding is no token of the data
      x64.insert(x64.end(), x.begin() + r * cols, x.begin() + (r + 1) * cols);
      ++real;
    }
    if (real == 0) return;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(cols), static_cast<int>(real), 1.0,
                x64.data(), static_cast<int>(cols), 1.0, g.data(), static_cast<int>(cols));
  };
  for (const EncoderBatch& b : probe.batches) {
    batch = &b;
    model.hidden_states(b, taps);
  }
  Statistics out;
  for (auto& [weight, sum] : sums) {
    auto& [in, g] = sum;
    StatTensor t{{in, in}, std::vector<float>(g.size())};
    for (int64_t r = 0; r < in; ++r)
      for (int64_t c = 0; c < in; ++c)
        t.values[static_cast<size_t>(r * in + c)] =
            static_cast<float>(g[static_cast<size_t>(std::min(r, c) * in + std::max(r, c))]);
    out[kGramPrefix + weight] = std::move(t);
  }
  return out;
}

Statistics pair_fisher_statistics(const Encoder<float>& model, const PairProbe& probe) {
  if (probe.batches.empty()) fail("no probe pair to compute a Fisher matrix from");
  std::map<std::string, Shape> shapes;
  for (const ExpectedTensor& t : encoder_tensors(model.config())) shapes[t.name] = t.shape;
  return mean_squared_gradients(shapes, probe.batches.size(), [&](size_t i, const GradSink<float>& sink) {
    pair_info_nce(model, probe.batches[i], probe.pooling, probe.temperature, &sink);
  });
}

}  // namespace alloy
