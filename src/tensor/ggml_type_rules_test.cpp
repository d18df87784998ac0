// Type rules, case by case against what llama.cpp's tools do (docs/gguf.md lists the sources):
// the shapes of stories260K (rows of 64 and 172: no k-quant block tiles them) and of a 7B Llama.
#include "tensor/ggml_type_rules.h"

#include <gtest/gtest.h>

#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

GgmlType type_of(std::string_view out, std::string_view name, std::vector<uint64_t> ne, bool has_output = true) {
  return gguf_tensor_type(*parse_out_type(out), name, ne, has_output);
}

TEST(GgmlTypeRules, OutTypeNames) {
  for (std::string_view name : {"f32", "F16", "bf16", "q8_0", "Q4_0", "q5_0", "q4_k", "Q5_K", "q6_k"})
    EXPECT_TRUE(parse_out_type(name).has_value()) << name;
  for (std::string_view name : {"q4_1", "q5_1", "q2_k", "iq4_nl", "float16", "", "q8"})
    EXPECT_FALSE(parse_out_type(name).has_value()) << name;
  EXPECT_EQ(parse_out_type("Q4_k"), GgmlType::Q4_K);
}

TEST(GgmlTypeRules, OneDimensionalNormsAndNonWeightsStayF32) {
  for (std::string_view out : {"f16", "bf16", "q8_0", "q4_k"}) {
    EXPECT_EQ(type_of(out, "blk.0.attn_norm.weight", {4096}), GgmlType::F32) << out;
    EXPECT_EQ(type_of(out, "blk.0.attn_q.bias", {4096}), GgmlType::F32) << out;
    EXPECT_EQ(type_of(out, "blk.0.attn_q.weight", {4096, 1}), GgmlType::F32) << out;  // ggml counts it 1-D
    EXPECT_EQ(type_of(out, "blk.0.ffn_gate_inp.weight", {4096, 8}), GgmlType::F32) << out;  // MoE router
    EXPECT_EQ(type_of(out, "blk.0.q_norm.weight", {128, 2}), GgmlType::F32) << out;
    EXPECT_EQ(type_of(out, "rope_freqs", {64, 2}), GgmlType::F32) << out;
  }
}

TEST(GgmlTypeRules, FloatTypesApplyToEveryOtherTensor) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16})
    for (std::string_view name : {"token_embd.weight", "output.weight", "blk.3.ffn_down.weight"})
      EXPECT_EQ(gguf_tensor_type(t, name, std::vector<uint64_t>{172, 64}, true), t) << name;
}

TEST(GgmlTypeRules, Llama7BShapes) {
  EXPECT_EQ(type_of("q4_k", "blk.0.attn_q.weight", {4096, 4096}), GgmlType::Q4_K);
  EXPECT_EQ(type_of("q4_k", "blk.0.ffn_down.weight", {11008, 4096}), GgmlType::Q4_K);
  EXPECT_EQ(type_of("q4_k", "token_embd.weight", {4096, 32000}), GgmlType::Q4_K);
  // The output projection one step up: Q6_K, except in a Q8_0 file.
  EXPECT_EQ(type_of("q4_k", "output.weight", {4096, 32000}), GgmlType::Q6_K);
  EXPECT_EQ(type_of("q4_0", "output.weight", {4096, 32000}), GgmlType::Q6_K);
  EXPECT_EQ(type_of("q6_k", "output.weight", {4096, 32000}), GgmlType::Q6_K);
  EXPECT_EQ(type_of("q8_0", "output.weight", {4096, 32000}), GgmlType::Q8_0);
  // Tied embeddings: token_embd is the output projection too.
  EXPECT_EQ(type_of("q4_0", "token_embd.weight", {4096, 32000}, false), GgmlType::Q6_K);
  EXPECT_EQ(type_of("q8_0", "token_embd.weight", {4096, 32000}, false), GgmlType::Q8_0);
}

// stories260K: rows of 64 (dim) and 172 (hidden). 64 is whole 32-blocks but no 256-block; 172 neither.
TEST(GgmlTypeRules, RowsNoBlockTilesFallBack) {
  EXPECT_EQ(type_of("q4_k", "blk.0.attn_q.weight", {64, 64}), GgmlType::Q5_0);
  EXPECT_EQ(type_of("q5_k", "blk.0.attn_q.weight", {64, 64}), GgmlType::Q5_1);
  EXPECT_EQ(type_of("q6_k", "blk.0.attn_q.weight", {64, 64}), GgmlType::Q8_0);
  EXPECT_EQ(type_of("q4_0", "blk.0.attn_q.weight", {64, 64}), GgmlType::Q4_0);
  EXPECT_EQ(type_of("q4_0", "output.weight", {64, 512}), GgmlType::Q8_0);  // Q6_K does not tile 64
  EXPECT_EQ(type_of("q4_k", "output.weight", {64, 512}), GgmlType::Q8_0);
  for (std::string_view out : {"q8_0", "q4_0", "q5_0", "q4_k", "q5_k", "q6_k"})
    EXPECT_EQ(type_of(out, "blk.0.ffn_down.weight", {172, 64}), GgmlType::F16) << out;
}

}  // namespace
}  // namespace alloy
