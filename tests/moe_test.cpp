// alloy moe: a Mixtral assembled from stories260K's fine-tunes routes each expert's own prompt to
// that expert at every layer (its router row is that prompt's normalised hidden state, so by
// Cauchy-Schwarz no other row scores it higher); experts, attention and scaled down_proj hold the
// source models' values; a Qwen2-MoE gets its shared expert, zero q/k/v biases and the config
// transformers reads; configs alloy cannot act on are refused naming the line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/checkpoint.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

// Prompts that end in different tokens (layer 0's input is the last token's embedding).
const char* kPython = "def main():\n    for i in range(10):\n        print(i)";
const char* kMan = "NAME\n       ls - list directory contents\nSYNOPSIS\n       ls [OPTION]... [FILE]...";

std::vector<float> values(const Checkpoint& ck, const std::string& name) {
  const TensorView v = ck.tensor(name);
  EXPECT_EQ(v.dtype, DType::F32) << name;
  const float* p = reinterpret_cast<const float*>(v.data);
  return std::vector<float>(p, p + v.numel());
}

// The residual stream entering each layer at the prompt's last token, by the engine run here.
std::vector<std::vector<float>> states(const fs::path& model, const std::string& prompt) {
  auto ck = Checkpoint::open(model);
  CheckpointWeights weights(ck);
  DecoderLM<float> lm(decoder_config_from_json(ck->config(), ck->has("lm_head.weight")), weights);
  auto tokenizer = load_tokenizer(model);
  std::vector<int32_t> ids{*tokenizer->bos_id()};
  for (int32_t id : tokenizer->encode(prompt)) ids.push_back(id);
  const int64_t n = static_cast<int64_t>(ids.size()), hidden = lm.config().hidden_size;
  const std::vector<float> embed = values(*ck, "model.embed_tokens.weight");
  std::vector<std::vector<float>> out(1, std::vector<float>(embed.begin() + ids.back() * hidden,
                                                            embed.begin() + (ids.back() + 1) * hidden));
  Taps<float> taps;
  taps.hidden = [&](int64_t layer, std::span<const float> h, int64_t, int64_t) {
    if (layer + 1 < lm.config().num_layers) out.emplace_back(h.begin() + (n - 1) * hidden, h.begin() + n * hidden);
  };
  lm.loss(next_token_batch(ids, 1, n), taps);
  return out;
}

double dot(const float* a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < b.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

class Moe : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* m : {"base", "python", "man"})
      fs::create_directory_symlink(fs::path(ALLOY_SHARED_DIR) / "stories260K" / m, tmp_ / m);
  }
  TempDir tmp_;
};

TEST_F(Moe, MixtralRoutesEachExpertsPromptToItAndKeepsTheSourceTensors) {
  write_file(tmp_ / "moe.yml", std::string("base_model: base\ngate_mode: hidden\nexperts_per_token: 1\nexperts:\n") +
                                   "  - source_model: python\n    positive_prompts: [" + nlohmann::json(kPython).dump() +
                                   "]\n  - source_model: man\n    residual_scale: 0.5\n    positive_prompts: [" +
                                   nlohmann::json(kMan).dump() + "]\n");
  auto r = run_alloy("moe moe.yml out -q", tmp_.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp_ / "out");
  EXPECT_EQ(out->config()["architectures"][0], "MixtralForCausalLM");
  EXPECT_EQ(out->config()["num_local_experts"], 2);
  EXPECT_EQ(out->config()["num_experts_per_tok"], 1);

  const auto python_states = states(tmp_ / "base", kPython), man_states = states(tmp_ / "base", kMan);
  for (int l = 0; l < 5; ++l) {
    SCOPED_TRACE(l);
    const std::vector<float> gate = values(*out, cat("model.layers.", l, ".block_sparse_moe.gate.weight"));
    ASSERT_EQ(gate.size(), 2u * 64);
    EXPECT_GT(dot(gate.data(), python_states[l]), dot(gate.data() + 64, python_states[l]));
    EXPECT_GT(dot(gate.data() + 64, man_states[l]), dot(gate.data(), man_states[l]));
  }
  auto base = Checkpoint::open(tmp_ / "base"), python = Checkpoint::open(tmp_ / "python"),
       man = Checkpoint::open(tmp_ / "man");
  const std::string l3 = "model.layers.3.";
  EXPECT_EQ(values(*out, l3 + "block_sparse_moe.experts.0.w1.weight"), values(*python, l3 + "mlp.gate_proj.weight"));
  EXPECT_EQ(values(*out, l3 + "block_sparse_moe.experts.0.w2.weight"), values(*python, l3 + "mlp.down_proj.weight"));
  EXPECT_EQ(values(*out, l3 + "block_sparse_moe.experts.1.w3.weight"), values(*man, l3 + "mlp.up_proj.weight"));
  std::vector<float> halved = values(*man, l3 + "mlp.down_proj.weight");
  for (float& v : halved) v *= 0.5f;  // exact in binary floating point
  EXPECT_EQ(values(*out, l3 + "block_sparse_moe.experts.1.w2.weight"), halved);
  EXPECT_EQ(values(*out, l3 + "self_attn.q_proj.weight"), values(*base, l3 + "self_attn.q_proj.weight"));
  EXPECT_EQ(values(*out, "lm_head.weight"), values(*base, "lm_head.weight"));
  EXPECT_FALSE(out->has(l3 + "mlp.gate_proj.weight"));
  EXPECT_TRUE(fs::exists(tmp_ / "out" / "tokenizer.model"));
  EXPECT_EQ(read_file(tmp_ / "out" / "alloy_moe_config.yml"), read_file(tmp_ / "moe.yml"));
}

TEST_F(Moe, QwenMoeHasItsSharedExpertZeroBiasesAndSeededRandomRouters) {
  const std::string config =
      "base_model: base\narchitecture: qwen\ngate_mode: uniform_random\ndtype: bfloat16\nexperts:\n"
      "  - source_model: python\n  - source_model: man\nshared_experts:\n  - source_model: base\n";
  write_file(tmp_ / "moe.yml", config);
  ASSERT_EQ(run_alloy("moe moe.yml a -q --random-seed 7", tmp_.path()).status, 0);
  ASSERT_EQ(run_alloy("moe moe.yml b -q --random-seed 7", tmp_.path()).status, 0);
  ASSERT_EQ(run_alloy("moe moe.yml c -q --random-seed 8", tmp_.path()).status, 0);
  EXPECT_EQ(read_file(tmp_ / "a" / "model.safetensors"), read_file(tmp_ / "b" / "model.safetensors"));
  EXPECT_NE(read_file(tmp_ / "a" / "model.safetensors"), read_file(tmp_ / "c" / "model.safetensors"));
  auto out = Checkpoint::open(tmp_ / "a");
  const auto& c = out->config();
  EXPECT_EQ(c["architectures"][0], "Qwen2MoeForCausalLM");
  EXPECT_EQ(c["num_experts"], 2);
  EXPECT_EQ(c["moe_intermediate_size"], 172);
  EXPECT_EQ(c["shared_expert_intermediate_size"], 172);
  EXPECT_EQ(c["torch_dtype"], "bfloat16");
  const TensorView gate = out->tensor("model.layers.0.mlp.gate.weight");
  EXPECT_EQ(gate.dtype, DType::BF16);
  EXPECT_EQ(gate.shape, (Shape{2, 64}));
  EXPECT_EQ(out->tensor("model.layers.0.mlp.shared_expert_gate.weight").shape, (Shape{1, 64}));
  EXPECT_EQ(out->tensor("model.layers.4.mlp.shared_expert.down_proj.weight").shape, (Shape{64, 172}));
  EXPECT_EQ(out->tensor("model.layers.1.mlp.experts.1.up_proj.weight").shape, (Shape{172, 64}));
  // uniform_random rows lie within +-1/sqrt(hidden) = 0.125 (bf16 rounds to at most that).
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(gate.data);
  for (int64_t i = 0; i < gate.numel(); ++i) {
    uint32_t f = uint32_t{bits[i]} << 16;
    float v;
    std::memcpy(&v, &f, 4);
    EXPECT_LE(std::abs(v), 0.125f);
  }
  const TensorView bias = out->tensor("model.layers.2.self_attn.k_proj.bias");
  EXPECT_EQ(bias.shape, (Shape{32}));  // 4 key/value heads of 8
  for (uint64_t i = 0; i < bias.nbytes; ++i) EXPECT_EQ(bias.data[i], std::byte{0});
}

TEST_F(Moe, ConfigsItCannotActOnAreRefusedByLine) {
  write_file(tmp_ / "same.yml", "base_model: base\ngate_mode: random\nexperts:\n  - source_model: python\n"
                                "  - source_model: python\n");
  auto r = run_alloy("moe same.yml out -q", tmp_.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("same.yml:3: every expert is the same model"), std::string::npos) << r.output;
  EXPECT_EQ(run_alloy("moe same.yml out -q --i-understand-this-is-not-useful-without-training", tmp_.path()).status, 0);

  write_file(tmp_ / "noise.yml", "base_model: base\ngate_mode: random\nexperts:\n  - source_model: python\n"
                                 "    noise_scale: 0.1\n");
  r = run_alloy("moe noise.yml out2 -q", tmp_.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("noise.yml:5"), std::string::npos) << r.output;

  write_file(tmp_ / "prompts.yml", "base_model: base\nexperts:\n  - source_model: python\n"
                                   "  - source_model: man\n    positive_prompts: [hi]\n");
  r = run_alloy("moe prompts.yml out3 -q", tmp_.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("prompts.yml:3: expert 'python' has no positive_prompts"), std::string::npos) << r.output;

  write_file(tmp_ / "deepseek.yml", "base_model: base\narchitecture: deepseek\ngate_mode: random\nexperts:\n"
                                    "  - source_model: python\n");
  r = run_alloy("moe deepseek.yml out4 -q", tmp_.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("deepseek.yml:2"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp_ / "out2") || fs::exists(tmp_ / "out3") || fs::exists(tmp_ / "out4"));
}

}  // namespace
}  // namespace alloy
