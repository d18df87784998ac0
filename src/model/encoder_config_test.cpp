// EncoderConfig: each family's switches, prefix detection, and errors naming the key.
#include "model/encoder_config.h"

#include <gtest/gtest.h>

#include "model/encoder_test_models.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using encoder_test_models::read_config;
using encoder_test_models::tiny_config;

std::string error_of(const nlohmann::json& json, const std::string& prefix = "") {
  try {
    read_config(json, prefix);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EncoderConfig, ReadsEachFamilyAndDetectsThePrefix) {
  const EncoderConfig bert = read_config(tiny_config("bert"), "bert.");
  EXPECT_EQ(bert.family, EncoderFamily::kBert);
  EXPECT_EQ(bert.prefix, "bert.");
  EXPECT_EQ(bert.head_dim, 4);
  EXPECT_EQ(bert.type_vocab_size, 2);
  EXPECT_EQ(bert.layer_norm_eps, 1e-5);
  EXPECT_EQ(bert.activation, Activation::kGeluErf);
  EXPECT_EQ(encoder_tensors(bert).front().name, "bert.embeddings.word_embeddings.weight");
  EXPECT_EQ(encoder_tensors(bert).size(), 5u + 2u * 16u);

  const EncoderConfig st = read_config(tiny_config("bert"), "");
  EXPECT_EQ(st.prefix, "");
  EXPECT_EQ(encoder_layer_prefix(st, 1), "encoder.layer.1.");

  for (const char* type : {"roberta", "xlm-roberta"}) {
    const EncoderConfig r = read_config(tiny_config(type), "roberta.");
    EXPECT_EQ(r.family, EncoderFamily::kRoberta);
    EXPECT_EQ(r.prefix, "roberta.");
    EXPECT_EQ(r.pad_token_id, 1);
  }
  nlohmann::json tanh = tiny_config("bert");
  tanh["hidden_act"] = "gelu_pytorch_tanh";
  EXPECT_EQ(read_config(tanh, "").activation, Activation::kGeluTanh);
  EXPECT_TRUE(is_encoder_config(tiny_config("xlm-roberta")));
  EXPECT_FALSE(is_encoder_config({{"model_type", "llama"}}));
}

TEST(EncoderConfig, ErrorsNameTheKey) {
  nlohmann::json j = tiny_config("bert");
  j["hidden_act"] = "relu";
  EXPECT_NE(error_of(j).find("'hidden_act' is \"relu\""), std::string::npos) << error_of(j);
  j = tiny_config("bert");
  j["position_embedding_type"] = "relative_key";
  EXPECT_NE(error_of(j).find("'position_embedding_type'"), std::string::npos);
  j = tiny_config("bert");
  j["is_decoder"] = true;
  EXPECT_NE(error_of(j).find("'is_decoder'"), std::string::npos);
  j = tiny_config("bert");
  j.erase("type_vocab_size");
  EXPECT_NE(error_of(j).find("'type_vocab_size' is missing"), std::string::npos);
  j = tiny_config("bert");
  j["num_attention_heads"] = 3;
  EXPECT_NE(error_of(j).find("'num_attention_heads'"), std::string::npos);
  j = tiny_config("roberta");
  j.erase("pad_token_id");
  EXPECT_NE(error_of(j).find("'pad_token_id' is missing"), std::string::npos);
  j = tiny_config("bert");
  j["model_type"] = "distilbert";
  EXPECT_NE(error_of(j).find("'model_type' is \"distilbert\""), std::string::npos);
  // Names with the other family's prefix are not this family's.
  EXPECT_NE(error_of(tiny_config("bert"), "roberta.").find("bert.embeddings.word_embeddings.weight"),
            std::string::npos);
}

}  // namespace
}  // namespace alloy
