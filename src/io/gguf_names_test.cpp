#include "io/gguf_names.h"

#include <gtest/gtest.h>

#include <vector>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(GgufNames, LlamaNamesBothWays) {
  const LlamaHeads heads{4, 2, true};
  const std::pair<const char*, const char*> rows[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
      {"model.layers.11.self_attn.o_proj.weight", "blk.11.attn_output.weight"},
      {"model.layers.2.input_layernorm.weight", "blk.2.attn_norm.weight"},
      {"model.layers.2.post_attention_layernorm.weight", "blk.2.ffn_norm.weight"},
      {"model.layers.3.mlp.gate_proj.weight", "blk.3.ffn_gate.weight"},
      {"model.layers.3.mlp.up_proj.weight", "blk.3.ffn_up.weight"},
      {"model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"},
      {"model.layers.7.self_attn.v_proj.bias", "blk.7.attn_v.bias"},
  };
  for (const auto& [hf, gguf] : rows) {
    SCOPED_TRACE(hf);
    EXPECT_EQ(gguf_name_from_hf(hf, heads)->name, gguf);
    EXPECT_EQ(gguf_name_from_hf(hf, heads)->rotary_heads, 0);
    EXPECT_EQ(hf_name_from_gguf(gguf, heads)->name, hf);
    EXPECT_EQ(hf_name_from_gguf(gguf, heads)->rotary_heads, 0);
  }
  // q by the attention heads, k by the key/value heads.
  EXPECT_EQ(hf_name_from_gguf("blk.5.attn_q.weight", heads)->name, "model.layers.5.self_attn.q_proj.weight");
  EXPECT_EQ(hf_name_from_gguf("blk.5.attn_q.weight", heads)->rotary_heads, 4);
  EXPECT_EQ(hf_name_from_gguf("blk.5.attn_k.weight", heads)->rotary_heads, 2);
  EXPECT_EQ(gguf_name_from_hf("model.layers.5.self_attn.k_proj.bias", heads)->rotary_heads, 2);
  // Qwen2 is stored unpermuted.
  EXPECT_EQ(hf_name_from_gguf("blk.5.attn_q.weight", LlamaHeads{4, 2, false})->rotary_heads, 0);
  for (const char* unknown : {"blk.1.ffn_gate_exps.weight", "rope_freqs.weight", "blk.x.attn_q.weight", "blk.1",
                              "token_embd", "blk.1.attn_q.scale"})
    EXPECT_FALSE(hf_name_from_gguf(unknown, heads)) << unknown;
  EXPECT_FALSE(gguf_name_from_hf("model.layers.1.mlp.experts.0.w1.weight", heads));
}

// LlamaModel.permute for 2 heads of 4 rows, worked by hand: reshape(2, 2, 2, cols) puts HF rows
// (0 1 | 2 3) and (4 5 | 6 7) as [head][j][i]; swapping j and i stores 0 2 1 3 4 6 5 7.
TEST(GgufNames, RotaryPermutationMatchesReshapeSwapaxes) {
  const std::vector<int64_t> stored_hf_rows = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int64_t llama_row = 0; llama_row < 8; ++llama_row) {
    EXPECT_EQ(llama_row_to_hf(llama_row, 8, 2), stored_hf_rows[static_cast<size_t>(llama_row)]);
    EXPECT_EQ(hf_row_to_llama(stored_hf_rows[static_cast<size_t>(llama_row)], 8, 2), llama_row);
  }
  // One head of 6 rows: (0 1 2 | 3 4 5) -> 0 3 1 4 2 5.
  const std::vector<int64_t> six = {0, 3, 1, 4, 2, 5};
  for (int64_t r = 0; r < 6; ++r) EXPECT_EQ(llama_row_to_hf(r, 6, 1), six[static_cast<size_t>(r)]);
  // Inverse of each other on a larger shape.
  for (int64_t r = 0; r < 64; ++r) EXPECT_EQ(llama_row_to_hf(hf_row_to_llama(r, 64, 4), 64, 4), r);
}

TEST(GgufNames, Families) {
  EXPECT_EQ(llama_family_by_gguf_arch("llama")->hf_class, "LlamaForCausalLM");
  EXPECT_FALSE(llama_family_by_gguf_arch("qwen2")->rotary_permuted);
  EXPECT_EQ(llama_family_by_gguf_arch("gemma"), nullptr);
  EXPECT_EQ(llama_family_by_config(nlohmann::json{{"architectures", {"MistralForCausalLM"}}})->gguf_arch, "llama");
  EXPECT_EQ(llama_family_by_config(nlohmann::json{{"model_type", "qwen2"}})->gguf_arch, "qwen2");
  EXPECT_EQ(llama_family_by_config(nlohmann::json{{"architectures", {"GPT2LMHeadModel"}}}), nullptr);
  const LlamaHeads h = llama_heads(nlohmann::json{{"architectures", {"Qwen2ForCausalLM"}}, {"num_attention_heads", 8}});
  EXPECT_EQ(h.kv_heads, 8);
  EXPECT_FALSE(h.rotary_permuted);
}

}  // namespace
}  // namespace alloy
