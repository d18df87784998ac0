// LoRA adapters applied while merging (lora/apply_adapter.h): every adapted weight equals the
// float64 W + scale·B·A computed here, rounded once to f32, for plain r, rsLoRA, rank and alpha
// patterns, fan_in_fan_out and embedding adapters; modules_to_save tensors replace the base's; a
// merge with a `model+adapter` input writes the same bytes as the merge of a model to which the
// adapter was applied beforehand (in float64, here); bad adapters fail naming file and tensor or key.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "io/safetensors.h"
#include "lora/apply_adapter.h"
#include "tensor/adapted_views.h"
#include "tensor/convert.h"
#include "tensor/view_rows.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::error_message;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

struct Matrix {
  Shape shape;
  std::vector<float> v;  // row-major
  DType dtype = DType::F32;
  double at(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * shape.back() + c)]; }
};

// Deterministic values of magnitude ~`size`, exactly representable in `dtype`.
Matrix make(Shape shape, double size, int seed, DType dtype = DType::F32) {
  Matrix m{shape, std::vector<float>(static_cast<size_t>(numel(shape))), dtype};
  for (size_t i = 0; i < m.v.size(); ++i) m.v[i] = static_cast<float>(size * std::sin(1.7 * seed + 0.91 * i + 0.3));
  round_to_dtype(dtype, m.v.data(), m.v.size());
  return m;
}

void write_tensors(const fs::path& file, const std::map<std::string, Matrix>& tensors) {
  std::vector<std::vector<std::byte>> bytes;
  std::vector<NamedTensor> named;
  for (const auto& [name, m] : tensors) {
    bytes.emplace_back(m.v.size() * dtype_size(m.dtype));
    from_f32(m.v.data(), m.dtype, bytes.back().data(), m.v.size());
  }
  size_t i = 0;
  for (const auto& [name, m] : tensors) {
    TensorView v;
    v.dtype = m.dtype;
    v.shape = m.shape;
    v.data = bytes[i].data();
    v.nbytes = bytes[i].size();
    named.push_back({name, v});
    ++i;
  }
  write_safetensors(file, named);
}

std::vector<float> read_all(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  read_view_rows(v, 0, v.rows(), out.data());
  return out;
}

// float64 W + scale·B·A (or its transpose added to W stored [in, out]), rounded once to f32.
std::vector<float> reference(const Matrix& w, const Matrix& a, const Matrix& b, double scale, bool transposed) {
  std::vector<float> out(w.v.size());
  const int64_t rows = w.shape[0], cols = w.shape[1], rank = a.shape[0];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double ba = 0;
      for (int64_t k = 0; k < rank; ++k) ba += transposed ? b.at(c, k) * a.at(k, r) : b.at(r, k) * a.at(k, c);
      out[static_cast<size_t>(r * cols + c)] = static_cast<float>(w.at(r, c) + scale * ba);
    }
  return out;
}

const std::string kQ0 = "model.layers.0.self_attn.q_proj", kQ1 = "model.layers.1.self_attn.q_proj",
                  kV0 = "model.layers.0.self_attn.v_proj", kEmbed = "model.embed_tokens";

struct Fixture {
  TempDir tmp;
  std::map<std::string, Matrix> base = {
      {kQ0 + ".weight", make({6, 5}, 0.5, 1)},  {kQ1 + ".weight", make({6, 5}, 0.5, 2)},
      {kV0 + ".weight", make({4, 5}, 0.5, 3)},  {kEmbed + ".weight", make({7, 5}, 0.5, 4)},
      {"lm_head.weight", make({7, 5}, 0.5, 5)}, {"model.norm.weight", make({5}, 1.0, 6)}};
  // PEFT's names in both of its forms; v_proj's factors in bf16.
  std::map<std::string, Matrix> adapter = {
      {"base_model.model." + kQ0 + ".lora_A.weight", make({2, 5}, 0.3, 11)},
      {"base_model.model." + kQ0 + ".lora_B.weight", make({6, 2}, 0.2, 12)},
      {"base_model.model." + kQ1 + ".lora_A.weight", make({3, 5}, 0.3, 13)},
      {"base_model.model." + kQ1 + ".lora_B.weight", make({6, 3}, 0.2, 14)},
      {"base_model.model." + kV0 + ".lora_A.default.weight", make({2, 5}, 0.3, 15, DType::BF16)},
      {"base_model.model." + kV0 + ".lora_B.default.weight", make({4, 2}, 0.2, 16, DType::BF16)},
      {"base_model.model." + kEmbed + ".lora_embedding_A", make({2, 7}, 0.3, 17)},
      {"base_model.model." + kEmbed + ".lora_embedding_B", make({5, 2}, 0.2, 18)},
      {"base_model.model.lm_head.weight", make({7, 5}, 0.5, 19)}};
  std::string config = R"({"peft_type": "LORA", "r": 2, "lora_alpha": 3, "lora_dropout": 0.05, "bias": "none",
      "target_modules": ["q_proj", "v_proj", "embed_tokens"], "modules_to_save": ["lm_head"],
      "rank_pattern": {"model.layers.1.self_attn.q_proj": 3}, "alpha_pattern": {"v_proj": 5}, "use_rslora": RS})";

  std::shared_ptr<const Checkpoint> apply(bool rslora = false) {
    write_tensors(tmp / "base.safetensors", base);
    fs::create_directories(tmp / "adapter");
    write_tensors(tmp / "adapter/adapter_model.safetensors", adapter);
    std::string c = config;
    c.replace(c.find("RS"), 2, rslora ? "true" : "false");
    write_file(tmp / "adapter/adapter_config.json", c);
    return open_with_lora_adapter(tmp / "base.safetensors", {}, tmp / "adapter");
  }
  const Matrix& ad(const std::string& module, const std::string& part) const {
    for (const auto& [name, m] : adapter)
      if (name.starts_with("base_model.model." + module + "." + part)) return m;
    throw std::runtime_error("no " + part + " for " + module);
  }
};

TEST(LoraApply, AdaptedWeightsEqualFloat64Reference) {
  for (bool rslora : {false, true}) {
    Fixture f;
    auto ck = f.apply(rslora);
    auto scale = [&](double alpha, double r) { return alpha / (rslora ? std::sqrt(r) : r); };
    struct Case { std::string module, a, b; double scale; bool transposed; };
    const Case cases[] = {{kQ0, "lora_A", "lora_B", scale(3, 2), false},
                          {kQ1, "lora_A", "lora_B", scale(3, 3), false},  // rank_pattern: r 3
                          {kV0, "lora_A", "lora_B", scale(5, 2), false},  // alpha_pattern: alpha 5
                          {kEmbed, "lora_embedding_A", "lora_embedding_B", scale(3, 2), true}};
    for (const Case& c : cases) {
      const TensorView v = ck->tensor(c.module + ".weight");
      const std::vector<float> want =
          reference(f.base.at(c.module + ".weight"), f.ad(c.module, c.a), f.ad(c.module, c.b), c.scale, c.transposed);
      EXPECT_EQ(read_all(v), want) << c.module << " rslora " << rslora;
      // Rows read in a block of their own, as the executor reads them.
      std::vector<float> rows(static_cast<size_t>(2 * v.row_length()));
      read_view_rows(v, 1, 3, rows.data());
      EXPECT_EQ(rows, std::vector<float>(want.begin() + 1 * v.row_length(), want.begin() + 3 * v.row_length()))
          << c.module;
    }
    EXPECT_EQ(read_all(ck->tensor("lm_head.weight")), f.adapter.at("base_model.model.lm_head.weight").v);
    EXPECT_FALSE(reads_through_view_rows(ck->tensor("model.norm.weight")));
    EXPECT_EQ(read_all(ck->tensor("model.norm.weight")), f.base.at("model.norm.weight").v);
    // The same base opened plainly beside it reads its own values.
    auto plain = Checkpoint::open(f.tmp / "base.safetensors");
    EXPECT_FALSE(reads_through_view_rows(plain->tensor(kQ0 + ".weight")));
    EXPECT_EQ(read_all(plain->tensor(kQ0 + ".weight")), f.base.at(kQ0 + ".weight").v);
  }
}

TEST(LoraApply, FanInFanOutWeightsAreStoredTransposed) {
  Fixture f;
  const std::string m = "transformer.h.0.attn.c_attn";
  f.base = {{m + ".weight", make({5, 9}, 0.5, 1)}};  // Conv1D: [in, out]
  f.adapter = {{"base_model.model." + m + ".lora_A.weight", make({2, 5}, 0.3, 2)},
               {"base_model.model." + m + ".lora_B.weight", make({9, 2}, 0.2, 3)}};
  f.config = R"({"r": 2, "lora_alpha": 7, "fan_in_fan_out": true, "target_modules": ["c_attn"], "use_rslora": RS})";
  auto ck = f.apply();
  EXPECT_EQ(read_all(ck->tensor(m + ".weight")),
            reference(f.base.at(m + ".weight"), f.ad(m, "lora_A"), f.ad(m, "lora_B"), 3.5, true));
}

TEST(LoraApply, RefusesAdaptersThatDoNotFitNamingFileAndTensors) {
  auto error_with = [](auto edit) {
    Fixture f;
    edit(f);
    return error_message([&] { f.apply(); }, "adapter applied");
  };
  std::string e = error_with([](Fixture& f) {
    f.adapter["base_model.model." + kV0 + ".lora_B.default.weight"] = make({6, 2}, 0.2, 1, DType::BF16);
  });
  EXPECT_NE(e.find("adapter_model.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("lora_B.default.weight' [6, 2]"), std::string::npos) << e;
  EXPECT_NE(e.find("'" + kV0 + ".weight' [4, 5]"), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.adapter.erase("base_model.model." + kQ0 + ".lora_B.weight"); });
  EXPECT_NE(e.find("no lora_B partner"), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.config.replace(f.config.find("\"v_proj\", "), 10, ""); });
  EXPECT_NE(e.find("target_modules"), std::string::npos) << e;
  EXPECT_NE(e.find(kV0), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.config.replace(f.config.find("\"r\": 2"), 6, "\"r\": 4"); });
  EXPECT_NE(e.find("not of rank 4"), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.base.erase(kQ0 + ".weight"); });
  EXPECT_NE(e.find("base model"), std::string::npos) << e;
  EXPECT_NE(e.find("lacks"), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.config.replace(f.config.find("\"bias\""), 0, "\"use_dora\": true, "); });
  EXPECT_NE(e.find("adapter_config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("'use_dora'"), std::string::npos) << e;
  e = error_with([](Fixture& f) { f.config.replace(f.config.find("[\"lm_head\"]"), 11, "[]"); });
  EXPECT_NE(e.find("modules_to_save"), std::string::npos) << e;
}

// The merge of `base+adapter` and ft1 against the merge of a copy of the base to which the adapter
// was applied here (float64, rounded once to f32) and ft1: the same bytes.
TEST(LoraApply, MergeWithAdapterInputEqualsMergeOfPreAppliedModel) {
  TempDir tmp;
  write_fixture_family(testing::small_llama(2), tmp / "family");
  auto base = Checkpoint::open(tmp / "family/base");
  std::map<std::string, Matrix> adapter, applied;
  for (const std::string& name : base->tensor_names()) {
    const TensorView v = base->tensor(name);
    Matrix w{v.shape, read_all(v)};
    if (name.ends_with("q_proj.weight") || name.ends_with("v_proj.weight")) {
      const std::string module = name.substr(0, name.size() - std::string(".weight").size());
      const int seed = static_cast<int>(applied.size());
      Matrix a = make({2, v.shape[1]}, 0.1, 100 + seed), b = make({v.shape[0], 2}, 0.1, 200 + seed);
      w.v = reference(w, a, b, 2.0, false);  // lora_alpha 4 / r 2
      adapter["base_model.model." + module + ".lora_A.weight"] = a;
      adapter["base_model.model." + module + ".lora_B.weight"] = b;
    }
    applied[name] = w;
  }
  fs::create_directories(tmp / "adapter");
  write_tensors(tmp / "adapter/adapter_model.safetensors", adapter);
  write_file(tmp / "adapter/adapter_config.json", R"({"r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"]})");
  fs::copy(tmp / "family/base", tmp / "applied");
  write_tensors(tmp / "applied/model.safetensors", applied);
  const std::string recipe = "merge_method: linear\nmodels:\n  - model: MODEL\n    parameters: {weight: 0.6}\n"
                             "  - model: family/ft1\n    parameters: {weight: 0.4}\n";
  for (const auto& [file, model] : {std::pair{"with_adapter.yml", "family/base+adapter"},
                                    std::pair{"pre_applied.yml", "applied"}}) {
    std::string text = recipe;
    text.replace(text.find("MODEL"), 5, model);
    write_file(tmp / file, text);
    auto r = run_alloy(std::string("merge ") + file + " out_" + file + " -q", tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const std::string got = read_file(tmp / "out_with_adapter.yml/model.safetensors");
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(got == read_file(tmp / "out_pre_applied.yml/model.safetensors"));
  // The adapter did change the merge: its q_proj differs from the merge of the plain base.
  write_file(tmp / "plain.yml", "merge_method: linear\nmodels:\n  - model: family/base\n    parameters: {weight: 0.6}\n"
                                "  - model: family/ft1\n    parameters: {weight: 0.4}\n");
  ASSERT_EQ(run_alloy("merge plain.yml out_plain -q", tmp.path()).status, 0);
  EXPECT_FALSE(got == read_file(tmp / "out_plain/model.safetensors"));
  // GGUF output writes an unchanged input's bytes as they are, but never an adapted one's.
  for (const auto& [file, model] : {std::pair{"pass_adapter.yml", "family/base+adapter"},
                                    std::pair{"pass_applied.yml", "applied"}}) {
    write_file(tmp / file, std::string("merge_method: passthrough\nmodels:\n  - model: ") + model + "\n");
    auto r = run_alloy(std::string("merge ") + file + " " + file + ".gguf --no-copy-tokenizer -q", tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  auto gguf_adapter = Checkpoint::open(tmp / "pass_adapter.yml.gguf");
  auto gguf_applied = Checkpoint::open(tmp / "pass_applied.yml.gguf");
  for (const std::string& name : gguf_applied->tensor_names())
    EXPECT_EQ(read_all(gguf_adapter->tensor(name)), read_all(gguf_applied->tensor(name))) << name;
}

}  // namespace
}  // namespace alloy
