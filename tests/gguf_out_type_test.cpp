// alloy merge --out-type end to end: each tensor of the GGUF is in the type worked out here from
// llama.cpp's rules (docs/gguf.md), and holds exactly the quantised bytes of the merged values
// (an average of two models, exact in f32, so the float64 reference rounds to the engine's
// values); float types on safetensors output; refusals. The fixture has a BPE tokenizer.json, which
// GGUF output does not convert, so no tokenizer is written.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "io/gguf_file.h"
#include "tensor/ggml_quantise.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::run_alloy;
using testing::TempDir;
using testing::tensor_values;
using testing::weighted_sum;
using testing::write_file;

// One layer, rows of 256 (hidden) and 512 (intermediate): whole k-quant super-blocks.
FixtureSpec wide_llama() {
  FixtureSpec spec = testing::small_llama(1);
  spec.dims.hidden = 256;
  spec.dims.intermediate = 512;
  return spec;
}

const char* kRecipe = "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n"
                      "  - model: family/ft2\n    parameters: {weight: 1}\ndtype: float32\n";

TEST(GgufOutType, EachTensorHoldsTheQuantisedMergeInItsType) {
  TempDir tmp;
  write_fixture_family(wide_llama(), tmp / "family");
  write_file(tmp / "recipe.yml", kRecipe);
  auto ft1 = Checkpoint::open(tmp / "family/ft1"), ft2 = Checkpoint::open(tmp / "family/ft2");
  // HF name -> llama.cpp name (q/k left out: their rows are reordered, gguf_output_test checks that).
  const std::map<std::string, std::string> names = {
      {"model.embed_tokens.weight", "token_embd.weight"},   {"lm_head.weight", "output.weight"},
      {"model.norm.weight", "output_norm.weight"},          {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight"}};
  struct Case {
    const char* out_type;
    GgmlType matrices, output;
  };
  for (const Case& c : {Case{"q8_0", GgmlType::Q8_0, GgmlType::Q8_0}, Case{"q4_0", GgmlType::Q4_0, GgmlType::Q6_K},
                        Case{"q4_k", GgmlType::Q4_K, GgmlType::Q6_K}, Case{"q5_k", GgmlType::Q5_K, GgmlType::Q6_K},
                        Case{"f16", GgmlType::F16, GgmlType::F16}}) {
    const std::string out = std::string(c.out_type) + ".gguf";
    auto r = run_alloy("merge recipe.yml " + out + " --out-type " + c.out_type + " --no-copy-tokenizer --no-fsync -q",
                       tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    auto file = GgufFile::open(tmp / out);
    for (const auto& [hf, name] : names) {
      const GgufTensorInfo* t = file->find_tensor(name);
      ASSERT_TRUE(t) << name;
      const bool norm = name.find("_norm") != std::string::npos;
      const GgmlType want = norm ? GgmlType::F32 : name == "output.weight" ? c.output : c.matrices;
      EXPECT_EQ(t->type, want) << c.out_type << " " << name << ": " << ggml_type_name(t->type);
      const std::vector<double> merged = weighted_sum({tensor_values(*ft1, hf), tensor_values(*ft2, hf)}, {0.5, 0.5});
      const std::vector<float> values(merged.begin(), merged.end());
      std::vector<std::byte> bytes(ggml_bytes(want, values.size()));
      quantise(want, values.data(), bytes.data(), values.size());
      ASSERT_EQ(t->nbytes, bytes.size()) << c.out_type << " " << name;
      EXPECT_EQ(std::memcmp(file->data(*t), bytes.data(), bytes.size()), 0) << c.out_type << " " << name;
    }
  }
}

TEST(GgufOutType, SafetensorsTakesFloatTypesOnly) {
  TempDir tmp;
  write_fixture_family(testing::small_llama(1), tmp / "family");
  write_file(tmp / "recipe.yml", kRecipe);
  auto r = run_alloy("merge recipe.yml bf16 --out-type bf16 --no-fsync -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto out = Checkpoint::open(tmp / "bf16");
  EXPECT_EQ(out->tensor("model.layers.0.mlp.up_proj.weight").dtype, DType::BF16);
  EXPECT_EQ(out->tensor("model.norm.weight").dtype, DType::BF16);

  r = run_alloy("merge recipe.yml q4 --out-type q4_k --no-fsync -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--out-type Q4_K: safetensors holds no quantised types"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "q4"));
  r = run_alloy("merge recipe.yml q.gguf --out-type q4_1 --no-fsync -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--out-type: unknown type 'q4_1' (f32|f16|bf16|q8_0|q4_0|q5_0|q4_k|q5_k|q6_k)"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "q.gguf"));
}

}  // namespace
}  // namespace alloy
