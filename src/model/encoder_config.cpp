#include "model/encoder_config.h"

#include "model/config_json.h"
#include "util/error.h"

namespace alloy {
namespace {

using config_json::bool_or;
using config_json::find;
using config_json::number_or;
using config_json::positive_int;
using config_json::string_or;

Activation read_activation(const nlohmann::json& config) {
  const std::string act = string_or(config, "hidden_act", "gelu");
  if (act == "gelu") return Activation::kGeluErf;
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  fail("config.json: 'hidden_act' is \"", act,
       "\"; the encoder supports \"gelu\" (erf), \"gelu_new\" and \"gelu_pytorch_tanh\"");
}

}  // namespace

bool is_encoder_config(const nlohmann::json& config) {
  const nlohmann::json* type = find(config, "model_type");
  if (!type || !type->is_string()) return false;
  const std::string t = type->get<std::string>();
  return t == "bert" || t == "roberta" || t == "xlm-roberta";
}

EncoderConfig encoder_config_from_json(const nlohmann::json& config,
                                       const std::function<bool(const std::string&)>& has_tensor) {
  if (!config.is_object()) fail("config.json: expected an object");
  const std::string type = string_or(config, "model_type", "");
  EncoderConfig c;
  if (type == "bert") {
    c.family = EncoderFamily::kBert;
  } else if (type == "roberta" || type == "xlm-roberta") {
    c.family = EncoderFamily::kRoberta;
  } else {
    fail("config.json: 'model_type' is \"", type, "\"; the encoder supports bert, roberta and xlm-roberta");
  }
  if (const nlohmann::json* archs = find(config, "architectures");
      archs && archs->is_array() && !archs->empty() && (*archs)[0].is_string())
    c.architecture = (*archs)[0].get<std::string>();

  c.vocab_size = positive_int(config, "vocab_size");
  c.hidden_size = positive_int(config, "hidden_size");
  c.intermediate_size = positive_int(config, "intermediate_size");
  c.num_layers = positive_int(config, "num_hidden_layers", config_json::kMaxConfigLayers);
  c.num_heads = positive_int(config, "num_attention_heads");
  if (c.hidden_size % c.num_heads != 0)
    fail("config.json: 'hidden_size' ", c.hidden_size, " is not a multiple of 'num_attention_heads' ", c.num_heads);
  c.head_dim = c.hidden_size / c.num_heads;
  c.max_positions = positive_int(config, "max_position_embeddings");
  c.type_vocab_size = positive_int(config, "type_vocab_size");
  if (const nlohmann::json* eps = find(config, "layer_norm_eps")) {
    if (!eps->is_number() || eps->get<double>() <= 0)
      fail("config.json: 'layer_norm_eps' must be a positive number, got ", eps->dump());
    c.layer_norm_eps = eps->get<double>();
  }
  c.activation = read_activation(config);
  if (const nlohmann::json* pad = find(config, "pad_token_id")) {
    if (!pad->is_number_integer() || pad->get<int64_t>() < 0 || pad->get<int64_t>() >= c.vocab_size)
      fail("config.json: 'pad_token_id' must be a token id below vocab_size ", c.vocab_size, ", got ", pad->dump());
    c.pad_token_id = pad->get<int32_t>();
  } else if (c.family == EncoderFamily::kRoberta) {
    fail("config.json: 'pad_token_id' is missing; RoBERTa's positions count from it");
  }
  if (c.family == EncoderFamily::kRoberta && c.max_positions <= c.pad_token_id + 1)
    fail("config.json: 'max_position_embeddings' ", c.max_positions, " leaves no position after pad_token_id + 1 = ",
         c.pad_token_id + 1);

  const std::string position_type = string_or(config, "position_embedding_type", "absolute");
  if (position_type != "absolute")
    fail("config.json: 'position_embedding_type' is \"", position_type, "\"; the encoder supports \"absolute\" only");
  if (bool_or(config, "is_decoder", false))
    fail("config.json: 'is_decoder' is true; the encoder runs bidirectional models only");
  if (bool_or(config, "add_cross_attention", false))
    fail("config.json: 'add_cross_attention' is true; cross-attention is not supported");

  const std::string family_prefix = c.family == EncoderFamily::kBert ? "bert." : "roberta.";
  const std::string probe = "embeddings.word_embeddings.weight";
  if (has_tensor(family_prefix + probe)) {
    c.prefix = family_prefix;
  } else if (has_tensor(probe)) {
    c.prefix = "";
  } else {
    fail("model weights: neither ", family_prefix, probe, " nor ", probe, " is present; is this a ", type,
         " checkpoint?");
  }
  return c;
}

std::string encoder_layer_prefix(const EncoderConfig& c, int64_t layer) {
  return cat(c.prefix, "encoder.layer.", layer, ".");
}

std::vector<ExpectedTensor> encoder_tensors(const EncoderConfig& c) {
  const int64_t h = c.hidden_size, f = c.intermediate_size;
  const std::string e = c.prefix + "embeddings.";
  std::vector<ExpectedTensor> out{{e + "word_embeddings.weight", {c.vocab_size, h}},
                                  {e + "position_embeddings.weight", {c.max_positions, h}},
                                  {e + "token_type_embeddings.weight", {c.type_vocab_size, h}},
                                  {e + "LayerNorm.weight", {h}},
                                  {e + "LayerNorm.bias", {h}}};
  auto linear = [&](const std::string& name, int64_t in, int64_t out_features) {
    out.push_back({name + ".weight", {out_features, in}});
    out.push_back({name + ".bias", {out_features}});
  };
  auto norm = [&](const std::string& name) {
    out.push_back({name + ".weight", {h}});
    out.push_back({name + ".bias", {h}});
  };
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = encoder_layer_prefix(c, l);
    linear(p + "attention.self.query", h, h);
    linear(p + "attention.self.key", h, h);
    linear(p + "attention.self.value", h, h);
    linear(p + "attention.output.dense", h, h);
    norm(p + "attention.output.LayerNorm");
    linear(p + "intermediate.dense", h, f);
    linear(p + "output.dense", f, h);
    norm(p + "output.LayerNorm");
  }
  return out;
}

}  // namespace alloy
