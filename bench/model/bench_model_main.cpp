// alloy_model_bench: the evaluation engine's speed against the machine's own sgemm rate, measured
// in the same run. A Llama-shaped model of about 0.13 B parameters (random, in memory) and the real
// stories260K run forward and forward+backward; `alloy eval` runs as a child on a bf16 fixture
// checkpoint for end-to-end tokens/s and the peak resident memory beside the stored weights.
#include <cblas.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "model/parallel.h"
#include "model/weight_source.h"
#include "util/error.h"

namespace alloy {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Best of `reps` of C[m,n] = A[m,k] B[k,n]ᵀ, as the engine's linear layers multiply; FLOP/s.
double sgemm_rate(int m, int n, int k, int reps) {
  std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(n) * k, 0.25f),
      c(static_cast<size_t>(m) * n);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
    best = std::min(best, seconds_since(t));
  }
  return 2.0 * m * n * k / best;
}

nlohmann::json llama_config(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads, int64_t vocab) {
  return {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", vocab}, {"hidden_size", hidden},
          {"intermediate_size", intermediate}, {"num_hidden_layers", layers}, {"num_attention_heads", heads},
          {"num_key_value_heads", heads}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"hidden_act", "silu"},
          {"tie_word_embeddings", false}};
}

MemoryWeights random_weights(const ModelConfig& config) {
  std::mt19937 rng(7);
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

// Parameters that take part in the matrix products (every weight but the embedding table).
int64_t matmul_params(const ModelConfig& c) {
  int64_t n = 0;
  for (const ExpectedTensor& t : decoder_tensors(c))
    if (t.shape.size() == 2 && t.name != "model.embed_tokens.weight") n += numel(t.shape);
  if (c.tied_embeddings) n += c.vocab_size * c.hidden_size;
  return n;
}

struct PassTiming {
  double forward_s = 0, backward_s = 0;  // best forward; best forward+backward
};

PassTiming time_passes(const DecoderLM<float>& model, int64_t batch, int64_t seq, int reps) {
  std::mt19937 rng(3);
  std::vector<int32_t> tokens(static_cast<size_t>(batch * seq));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % model.config().vocab_size);
  TokenBatch b = next_token_batch(tokens, batch, seq);
  PassTiming p{1e30, 1e30};
  GradSink<float> discard = [](const std::string&, std::span<const float>) {};
  for (int r = 0; r < reps; ++r) {
    auto t = Clock::now();
    model.loss(b);
    p.forward_s = std::min(p.forward_s, seconds_since(t));
    t = Clock::now();
    model.loss_and_gradient(b, discard);
    p.backward_s = std::min(p.backward_s, seconds_since(t));
  }
  return p;
}

nlohmann::json report_passes(const char* name, const DecoderLM<float>& model, int64_t batch, int64_t seq, int reps,
                             double sgemm) {
  PassTiming p = time_passes(model, batch, seq, reps);
  const double tokens = static_cast<double>(batch * seq);
  const ModelConfig& c = model.config();
  // Linear layers: 2 FLOP per parameter per token; attention: QKᵀ and PV, 2·2·seq/2·hidden on average.
  const double fwd_flop = tokens * (2.0 * matmul_params(c) + 2.0 * seq * c.num_layers * c.num_heads * c.head_dim);
  const double fwd_rate = fwd_flop / p.forward_s;
  std::printf("%-14s %8lld tokens  forward %9.0f tok/s %7.1f GFLOP/s (%4.0f%% of sgemm)   fwd+bwd %9.0f tok/s "
              "(%.2fx forward)\n",
              name, static_cast<long long>(tokens), tokens / p.forward_s, fwd_rate / 1e9, 100 * fwd_rate / sgemm,
              tokens / p.backward_s, p.backward_s / p.forward_s);
  return {{"model", name}, {"tokens", tokens}, {"forward_s", p.forward_s}, {"forward_backward_s", p.backward_s},
          {"forward_tokens_per_s", tokens / p.forward_s}, {"forward_gflops", fwd_rate / 1e9},
          {"forward_of_sgemm", fwd_rate / sgemm}, {"backward_over_forward", p.backward_s / p.forward_s - 1},
          {"forward_backward_over_forward", p.backward_s / p.forward_s}};
}

// `alloy eval` on a bf16 fixture checkpoint in a child: its own peak RSS and wall time.
nlohmann::json eval_in_child(const std::string& alloy, const fs::path& dir, int threads) {
  fs::create_directories(dir);
  const fs::path family = dir / "family";
  if (!fs::exists(family / "base/model.safetensors")) {
    std::string cmd = "'" + alloy + "' fixture '" + family.string() +
                      "' --family llama --layers 12 --hidden 768 --intermediate 2048 --vocab 32000 --heads 12 "
                      "--max-positions 512 --fine-tunes 0 --dtype bfloat16 > /dev/null";
    if (std::system(cmd.c_str()) != 0) fail("cannot write the fixture: ", cmd);
  }
  const fs::path text = dir / "text.txt";
  {
    std::ofstream out(text);
    const char* words[] = {"the", "cat", "sat", "on", "hello", "world", "and", "of", "to", "is", "in", "at"};
    std::mt19937 rng(1);
    for (int i = 0; i < 20000; ++i) out << words[rng() % 12] << (i % 17 == 16 ? "\n" : " ");
  }
  const auto stored = Checkpoint::open(family / "base")->tensor_bytes();
  auto t = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (FILE* null = std::fopen("/dev/null", "w")) dup2(fileno(null), STDOUT_FILENO);
    std::string j = std::to_string(threads);
    execl(alloy.c_str(), alloy.c_str(), "eval", (family / "base").c_str(), "--text", text.c_str(), "-q", "-j",
          j.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  const double wall = seconds_since(t);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("alloy eval failed on the fixture");
  const double rss = static_cast<double>(ru.ru_maxrss) * 1024;
  std::printf("alloy eval, 0.13B bf16 checkpoint: %.1f s; peak RSS %.0f MiB = stored weights %.0f MiB + %.0f MiB\n",
              wall, rss / (1 << 20), stored / double(1 << 20), (rss - stored) / (1 << 20));
  return {{"wall_s", wall}, {"peak_rss_bytes", rss}, {"stored_weight_bytes", stored}};
}

int bench_model_main(int argc, char** argv) {
  CLI::App app{"alloy_model_bench: forward and backward speed of the evaluation engine against sgemm"};
  int threads = 0, reps = 3;
  int64_t batch = 4, seq = 128;
  std::string json_path, alloy = "build/alloy", work = "build/bench-model";
  app.add_option("--threads", threads, "threads (default: all cores)");
  app.add_option("--repeat", reps, "runs per measurement; the fastest is reported")->capture_default_str();
  app.add_option("--batch", batch, "sequences per pass")->capture_default_str();
  app.add_option("--seq", seq, "tokens per sequence")->capture_default_str();
  app.add_option("--alloy", alloy, "the alloy binary for the end-to-end eval")->capture_default_str();
  app.add_option("--work-dir", work, "where the fixture checkpoint is cached")->capture_default_str();
  app.add_option("--json", json_path, "also write the results to this file");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) {
    set_engine_threads(threads);
    openblas_set_num_threads(threads);
  }
  const int used = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  const double sgemm = sgemm_rate(static_cast<int>(batch * seq), 2048, 768, reps + 2);
  std::printf("sgemm (%lld x 2048 x 768, %d threads): %.1f GFLOP/s\n", static_cast<long long>(batch * seq), used,
              sgemm / 1e9);
  nlohmann::json out{{"threads", used}, {"sgemm_gflops", sgemm / 1e9}};

  ModelConfig large = decoder_config_from_json(llama_config(768, 2048, 12, 12, 32000), true);
  MemoryWeights large_weights = random_weights(large);
  out["llama_0.13b"] = report_passes("llama 0.13B", DecoderLM<float>(large, large_weights), batch, seq, reps, sgemm);

  const fs::path stories = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K/python";
  auto ck = Checkpoint::open(stories);
  CheckpointWeights stories_weights(ck);
  ModelConfig sc = decoder_config_from_json(ck->config(), ck->has("lm_head.weight"));
  out["stories260K"] = report_passes("stories260K", DecoderLM<float>(sc, stories_weights), 64, seq, reps, sgemm);

  if (fs::exists(alloy)) out["eval_checkpoint"] = eval_in_child(alloy, work, used);
  else std::printf("no %s: the end-to-end eval is skipped (build the alloy target)\n", alloy.c_str());
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace alloy

int main(int argc, char** argv) {
  try {
    return alloy::bench_model_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alloy_model_bench: %s\n", e.what());
    return 1;
  }
}
