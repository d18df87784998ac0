// Test helper: llama.cpp's names and q/k row order for a Hugging Face Llama checkpoint, written
// out here from gguf-py's tensor map (MODEL_ARCH.LLAMA) and convert_hf_to_gguf.py's
// LlamaModel.permute, independent of alloy's own mapping (io/gguf_names), so tests of GGUF input
// and output check alloy against the converter, not against itself.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace alloy::testing {

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight" (weights of the Llama map only).
inline std::string llama_cpp_name(const std::string& hf) {
  static const std::map<std::string, std::string> whole = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                           {"model.norm.weight", "output_norm.weight"},
                                                           {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> per_layer = {
      {"self_attn.q_proj", "attn_q"},      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"input_layernorm", "attn_norm"}, {"mlp.gate_proj", "ffn_gate"},
      {"mlp.down_proj", "ffn_down"},       {"mlp.up_proj", "ffn_up"},        {"post_attention_layernorm", "ffn_norm"}};
  if (auto it = whole.find(hf); it != whole.end()) return it->second;
  const std::string prefix = "model.layers.";
  const size_t dot = hf.find('.', prefix.size());
  const std::string rest = hf.substr(dot + 1, hf.size() - dot - 1 - std::string(".weight").size());
  return "blk." + hf.substr(prefix.size(), dot - prefix.size()) + "." + per_layer.at(rest) + ".weight";
}

// LlamaModel.permute (reshape(heads, 2, d/2).swapaxes(1, 2)): within each head of head_dim rows,
// GGUF row 2i + k holds HF row k·(head_dim/2) + i.
inline int64_t hf_row_of_gguf_row(int64_t gguf_row, int64_t head_dim) {
  const int64_t head = gguf_row / head_dim, r = gguf_row % head_dim;
  return head * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

}  // namespace alloy::testing
