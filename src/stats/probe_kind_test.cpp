// A probe of the wrong kind for its model is refused with a message saying which kind fits which.
#include <gtest/gtest.h>

#include "model/encoder_test_models.h"
#include "stats/probe_kind.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string refusal(const nlohmann::json& config, const std::string& probe) {
  try {
    check_probe_fits_model(config, probe);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ProbeKind, EachKindFitsItsModelsAndTheOtherIsRefused) {
  const nlohmann::json bert = encoder_test_models::tiny_config("bert");
  const nlohmann::json llama = {{"model_type", "llama"}};
  EXPECT_EQ(refusal(bert, "pairs.jsonl"), "");
  EXPECT_EQ(refusal(llama, "probe.txt"), "");
  EXPECT_EQ(refusal(llama, "probe"), "");  // any file that is not .jsonl is text

  const std::string text_for_encoder = refusal(bert, "probe.txt");
  EXPECT_NE(text_for_encoder.find("probe.txt is plain text, which fits decoder language models"), std::string::npos)
      << text_for_encoder;
  EXPECT_NE(text_for_encoder.find("embedding encoder (model_type \"bert\"): give a .jsonl"), std::string::npos)
      << text_for_encoder;

  const std::string pairs_for_decoder = refusal(llama, "pairs.jsonl");
  EXPECT_NE(pairs_for_decoder.find("pairs.jsonl: query/positive pairs (.jsonl) fit embedding encoders"),
            std::string::npos) << pairs_for_decoder;
  EXPECT_NE(pairs_for_decoder.find("decoder language model (model_type \"llama\"): give a plain text file"),
            std::string::npos) << pairs_for_decoder;
}

}  // namespace
}  // namespace alloy
