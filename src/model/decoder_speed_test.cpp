// Speed and memory of the decoder on a Llama-shaped random model of ~0.1 B parameters, beside the
// machine's own sgemm rate. A measurement, not a check: disabled by default; run with
//   alloy_tests --gtest_also_run_disabled_tests --gtest_filter='DecoderSpeed.*'
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/decoder.h"
#include "tensor/convert.h"

namespace alloy {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json speed_config() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 32000}, {"hidden_size", 768},
          {"intermediate_size", 2048}, {"num_hidden_layers", 12}, {"num_attention_heads", 12},
          {"num_key_value_heads", 12}, {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", true}};
}

MemoryWeights speed_weights(const ModelConfig& config) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  MemoryWeights w;
  for (const ExpectedTensor& t : decoder_tensors(config)) {
    std::vector<float> v(static_cast<size_t>(numel(t.shape)));
    const bool norm = t.name.find("norm") != std::string::npos;
    for (float& x : v) x = norm ? 1.0f : normal(rng);
    w.set(t.name, t.shape, std::move(v));
  }
  return w;
}

TokenBatch speed_batch(const ModelConfig& config, int64_t batch, int64_t seq_len) {
  std::vector<int32_t> tokens(batch * seq_len);
  std::mt19937 rng(2);
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % config.vocab_size);
  return next_token_batch(tokens, batch, seq_len);
}

double model_flops_per_token(const ModelConfig& c) {
  const double d = c.hidden_size, f = c.intermediate_size, q = c.num_heads * c.head_dim,
               kv = c.num_kv_heads * c.head_dim;
  return 2.0 * (c.num_layers * (d * (q + 2 * kv) + q * d + 3 * d * f) + c.vocab_size * d);
}

TEST(DecoderSpeed, DISABLED_ForwardBackwardAgainstSgemm) {
  const ModelConfig config = decoder_config_from_json(speed_config(), false);
  const int64_t batch = 2, seq_len = 256, n = batch * seq_len;

  {  // sgemm on the forward's own largest shape: [tokens, hidden] x [hidden, intermediate]^T
    const int64_t m = n, k = config.hidden_size, cols = config.intermediate_size;
    std::vector<float> a(m * k, 0.5f), b(cols * k, 0.25f), c(m * cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, cols, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(),
                cols);
    const auto start = std::chrono::steady_clock::now();
    int reps = 0;
    while (seconds_since(start) < 1.0 || reps < 3) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, cols, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
                  c.data(), cols);
      ++reps;
    }
    std::printf("sgemm %ldx%ldx%ld: %.1f GFLOP/s (%d OpenBLAS threads)\n", long(m), long(cols), long(k),
                2.0 * m * cols * k * reps / seconds_since(start) / 1e9, openblas_get_num_threads());
  }

  const MemoryWeights weights = speed_weights(config);
  const DecoderLM<float> model(config, weights);
  const TokenBatch tokens = speed_batch(config, batch, seq_len);
  const double flops = model_flops_per_token(config) * n;
  model.loss(tokens);  // warm-up
  auto start = std::chrono::steady_clock::now();
  model.loss(tokens);
  const double forward = seconds_since(start);
  start = std::chrono::steady_clock::now();
  double sum = 0;
  model.loss_and_gradient(tokens, [&](const std::string&, std::span<const float> g) { sum += g[0]; });
  const double both = seconds_since(start);
  double parameters = 0;
  for (const auto& [name, t] : weights.tensors()) parameters += static_cast<double>(t.values.size());
  std::printf("%.0f M parameters, %ld x %ld tokens\n", parameters / 1e6, long(batch), long(seq_len));
  std::printf("forward: %.0f tokens/s, %.1f GFLOP/s\n", n / forward, flops / forward / 1e9);
  std::printf("forward+backward: %.0f tokens/s (%.2fx the forward's time)\n", n / both, both / forward);
}

// Peak resident memory of a forward that reads a bf16 checkpoint, measured in a child process
// so that writing the checkpoint does not count.
TEST(DecoderSpeed, DISABLED_PeakMemoryReadingACheckpoint) {
  const ModelConfig config = decoder_config_from_json(speed_config(), false);
  std::string dir = (std::filesystem::temp_directory_path() / "alloy_speed_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  uint64_t stored = 0;
  {
    const MemoryWeights weights = speed_weights(config);
    std::vector<std::vector<uint16_t>> storage;
    std::vector<NamedTensor> tensors;
    for (const auto& [name, t] : weights.tensors()) {
      storage.emplace_back(t.values.size());
      from_f32(t.values.data(), DType::BF16, storage.back().data(), t.values.size());
      tensors.push_back({name, TensorView{DType::BF16, t.shape,
                                          reinterpret_cast<const std::byte*>(storage.back().data()),
                                          storage.back().size() * 2}});
      stored += storage.back().size() * 2;
    }
    write_safetensors(std::filesystem::path(dir) / "model.safetensors", tensors);
    write_json_file(std::filesystem::path(dir) / "config.json", speed_config());
  }
  const pid_t child = ::fork();
  if (child == 0) {
    const auto checkpoint = Checkpoint::open(dir);
    const CheckpointWeights weights(checkpoint);
    const DecoderLM<float> model(config, weights);
    model.loss(speed_batch(config, 2, 256));
    ::_exit(0);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(child, &status, 0, &usage);
  std::printf("stored weights %.0f MB (bf16); forward of 2 x 256 tokens from the checkpoint: peak RSS %.0f MB\n",
              stored / 1e6, usage.ru_maxrss / 1e3);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace alloy
