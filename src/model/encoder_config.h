// EncoderConfig: the shape of a BERT-family text encoder (BERT, RoBERTa, XLM-R) read from a
// Hugging Face config.json: post-LN blocks, absolute position and token-type embeddings, GELU.
// A switch the engine cannot honour is an Error naming the config key.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_config.h"

namespace alloy {

enum class EncoderFamily { kBert, kRoberta };
enum class Activation { kGeluErf, kGeluTanh };

struct EncoderConfig {
  std::string architecture;  // "BertModel", "XLMRobertaModel", ... (may be empty)
  EncoderFamily family = EncoderFamily::kBert;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t max_positions = 0;
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::kGeluErf;
  int32_t pad_token_id = 0;
  // Tensor names start with this: "bert." / "roberta." in *ForMaskedLM checkpoints, "" in
  // sentence-transformers exports of the bare model.
  std::string prefix;
};

// True when config.json's model_type is one of the encoders above.
bool is_encoder_config(const nlohmann::json& config);

// Reads config.json; `has_tensor` tells which naming the checkpoint uses (with or without the
// family's prefix). Throws Error naming the key for a missing or bad value or an unsupported switch.
EncoderConfig encoder_config_from_json(const nlohmann::json& config,
                                       const std::function<bool(const std::string&)>& has_tensor);

// The tensors the encoder reads and the shape each must have (the MLM head and pooler are not read).
std::vector<ExpectedTensor> encoder_tensors(const EncoderConfig& config);
// "<prefix>encoder.layer.N."
std::string encoder_layer_prefix(const EncoderConfig& config, int64_t layer);

}  // namespace alloy
