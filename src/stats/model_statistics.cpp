#include "stats/model_statistics.h"

#include <cblas.h>

#include "io/safetensors.h"
#include "model/model_config.h"
#include "util/error.h"

namespace alloy {

Statistics gram_statistics(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks,
                           const std::function<bool(const std::string&)>& keep) {
  std::map<std::string, std::pair<int64_t, std::vector<double>>> sums;  // name -> (in, upper triangle of Σ XᵀX)
  std::vector<double> x64;
  Taps<float> taps;
  taps.linear_input = [&](const std::string& weight, std::span<const float> x, int64_t rows, int64_t cols) {
    if (weight.find("embed") != std::string::npos || (keep && !keep(weight))) return;
    auto& [in, g] = sums[weight];
    if (g.empty()) {
      in = cols;
      g.assign(static_cast<size_t>(cols * cols), 0.0);
    }
    x64.assign(x.begin(), x.end());
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(cols), static_cast<int>(rows), 1.0,
                x64.data(), static_cast<int>(cols), 1.0, g.data(), static_cast<int>(cols));
  };
  for (const TokenBatch& chunk : chunks) model.loss(chunk, taps);
  Statistics out;
  for (auto& [weight, sum] : sums) {
    auto& [in, g] = sum;
    StatTensor t{{in, in}, std::vector<float>(g.size())};
    for (int64_t r = 0; r < in; ++r)
      for (int64_t c = 0; c < in; ++c)
        t.values[static_cast<size_t>(r * in + c)] = static_cast<float>(g[static_cast<size_t>(std::min(r, c) * in + std::max(r, c))]);
    out[kGramPrefix + weight] = std::move(t);
  }
  return out;
}

Statistics mean_squared_gradients(const std::map<std::string, Shape>& shapes, size_t samples,
                                  const std::function<void(size_t i, const GradSink<float>& sink)>& backward) {
  Statistics out;
  const GradSink<float> sink = [&](const std::string& name, std::span<const float> grad) {
    StatTensor& t = out[kFisherPrefix + name];
    if (t.values.empty()) {
      auto it = shapes.find(name);
      t.shape = it != shapes.end() ? it->second : Shape{static_cast<int64_t>(grad.size())};
      t.values.assign(grad.size(), 0.0f);
    }
    float* acc = t.values.data();
    for (size_t k = 0; k < grad.size(); ++k) acc[k] += grad[k] * grad[k];
  };
  for (size_t i = 0; i < samples; ++i) backward(i, sink);
  const float inv = 1.0f / static_cast<float>(samples);
  for (auto& [name, t] : out)
    for (float& v : t.values) v *= inv;
  return out;
}

Statistics fisher_statistics(const DecoderLM<float>& model, const std::vector<TokenBatch>& chunks) {
  if (chunks.empty()) fail("no probe chunk to compute a Fisher matrix from");
  std::map<std::string, Shape> shapes;
  for (const ExpectedTensor& t : decoder_tensors(model.config())) shapes[t.name] = t.shape;
  // One chunk per backward pass, so each gradient is one example's.
  return mean_squared_gradients(shapes, chunks.size(), [&](size_t i, const GradSink<float>& sink) {
    model.loss_and_gradient(chunks[i], sink);
  });
}

void write_statistics(const std::filesystem::path& path, const Statistics& stats,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<NamedTensor> tensors;
  for (const auto& [name, t] : stats)
    tensors.push_back({name, TensorView{DType::F32, t.shape, reinterpret_cast<const std::byte*>(t.values.data()),
                                        t.values.size() * sizeof(float)}});
  write_safetensors(path, tensors, metadata);
}

}  // namespace alloy
