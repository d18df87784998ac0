#include "lora/adapter_tensor_name.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using K = AdapterTensorName::Kind;

AdapterTensorName parse(const std::string& name) { return parse_adapter_tensor_name(name, "a/adapter_model.safetensors"); }

TEST(AdapterTensorName, MapsPeftNamesToBaseTensors) {
  AdapterTensorName a = parse("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(a.kind, K::A);
  EXPECT_EQ(a.base_tensor(), "model.layers.0.self_attn.q_proj.weight");
  AdapterTensorName b = parse("base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight");
  EXPECT_EQ(b.kind, K::B);
  EXPECT_EQ(b.module, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(parse("base_model.model.model.embed_tokens.lora_embedding_A").kind, K::EmbeddingA);
  AdapterTensorName eb = parse("base_model.model.model.embed_tokens.lora_embedding_B.default");
  EXPECT_EQ(eb.kind, K::EmbeddingB);
  EXPECT_EQ(eb.base_tensor(), "model.embed_tokens.weight");
  AdapterTensorName full = parse("base_model.model.lm_head.weight");
  EXPECT_EQ(full.kind, K::Full);
  EXPECT_EQ(full.base_tensor(), "lm_head.weight");
  AdapterTensorName wrapped = parse("base_model.model.score.modules_to_save.default.bias");
  EXPECT_EQ(wrapped.kind, K::Full);
  EXPECT_EQ(wrapped.base_tensor(), "score.bias");
}

TEST(AdapterTensorName, RefusesForeignNamesAndLoraPartsNotApplied) {
  auto error = [](const std::string& name) {
    try {
      parse(name);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "accepted " << name;
    return std::string();
  };
  std::string e = error("model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_NE(e.find("a/adapter_model.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("base_model.model."), std::string::npos) << e;
  EXPECT_NE(error("base_model.model.model.layers.0.q_proj.lora_B.bias").find("does not apply"), std::string::npos);
  EXPECT_NE(error("base_model.model.model.layers.0.q_proj.lora_magnitude_vector").find("DoRA"), std::string::npos);
  EXPECT_NE(error("base_model.model.model.layers.0.q_proj.lora_A.other.weight").find("'default'"), std::string::npos);
  EXPECT_NE(error("base_model.model.weight").find("names no module"), std::string::npos);
}

}  // namespace
}  // namespace alloy
