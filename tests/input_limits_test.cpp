// The limits the parsers check before allocating (docs/reliability.md lists them): each at its
// boundary, one step inside accepted and one step past refused with an error naming the limit.
#include <gtest/gtest.h>

#include <string>

#include "io/checkpoint.h"
#include "model/config_json.h"
#include "model/model_config.h"
#include "recipe/recipe.h"
#include "test_support.h"
#include "util/read_whole_file.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;
using testing::TempDir;
using testing::write_file;

std::string nested_arrays(int levels) {
  return std::string(static_cast<size_t>(levels), '[') + std::string(static_cast<size_t>(levels), ']');
}

TEST(InputLimits, JsonNestingIsBoundedAtItsLimit) {
  TempDir dir;
  write_file(dir / "ok.json", nested_arrays(kMaxJsonDepth));
  EXPECT_EQ(read_json_file(dir / "ok.json").dump(), nested_arrays(kMaxJsonDepth));
  write_file(dir / "deep.json", nested_arrays(kMaxJsonDepth + 1));
  std::string message = error_message([&] { read_json_file(dir / "deep.json"); }, "deep JSON read");
  EXPECT_NE(message.find("deep.json"), std::string::npos) << message;
  EXPECT_NE(message.find("kMaxJsonDepth"), std::string::npos) << message;
  // Far deeper than the stack could take if anything recursed before the check.
  write_file(dir / "abyss.json", nested_arrays(1'000'000));
  message = error_message([&] { read_json_file(dir / "abyss.json"); }, "1e6-deep JSON read");
  EXPECT_NE(message.find("nested more than 64"), std::string::npos) << message;
}

TEST(InputLimits, WholeFileReadStopsPastItsLimit) {
  TempDir dir;
  write_file(dir / "f", std::string(100'000, 'x'));  // over one 64 KiB read
  EXPECT_EQ(read_whole_file(dir / "f", "test file", 100'000).size(), 100'000u);
  std::string message = error_message([&] { read_whole_file(dir / "f", "test file", 99'999); }, "oversized read");
  EXPECT_NE(message.find("test file"), std::string::npos) << message;
  EXPECT_NE(message.find("larger than 100.0 KB"), std::string::npos) << message;  // 99,999 in three digits
}

TEST(InputLimits, RecipeNestingIsRefusedAsASyntaxError) {
  // yaml-cpp's parser recurses per level and stops at its own depth guard; far past it here.
  std::string dashes;
  for (int i = 0; i < 50'000; ++i) dashes += "- ";
  for (const std::string& deep : {std::string(100'000, '['), std::string(100'000, '{'), dashes}) {
    std::string message = error_message([&] { parse_recipe(deep, "deep.yml"); }, "deep recipe");
    EXPECT_EQ(message.rfind("deep.yml", 0), 0u) << message.substr(0, 200);
  }
}

nlohmann::json llama_config(nlohmann::json layers) {
  return {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 8}, {"intermediate_size", 16},
          {"num_hidden_layers", layers}, {"num_attention_heads", 2}, {"vocab_size", 32}};
}

TEST(InputLimits, ConfigLayerCountIsBoundedBeforeTensorsAreListed) {
  ModelConfig config = decoder_config_from_json(llama_config(config_json::kMaxConfigLayers), true);
  EXPECT_EQ(config.num_layers, 4096);
  std::string message = error_message(
      [&] { decoder_config_from_json(llama_config(config_json::kMaxConfigLayers + 1), true); }, "4097 layers");
  EXPECT_NE(message.find("'num_hidden_layers' is 4097"), std::string::npos) << message;
  message = error_message([&] { decoder_config_from_json(llama_config(int64_t{1} << 40), true); }, "2^40 layers");
  EXPECT_NE(message.find("num_hidden_layers"), std::string::npos) << message;
}

TEST(InputLimits, ConfigIntegersStayBelowTwoToTheThirtyOne) {
  const nlohmann::json ok = {{"vocab_size", config_json::kMaxConfigInteger}};
  EXPECT_EQ(config_json::positive_int(ok, "vocab_size"), 2147483647);
  const nlohmann::json big = {{"vocab_size", int64_t{1} << 31}};
  std::string message = error_message([&] { config_json::positive_int(big, "vocab_size"); }, "2^31 vocabulary");
  EXPECT_NE(message.find("'vocab_size' is 2147483648"), std::string::npos) << message;
  // Above int64: nlohmann stores it unsigned; read as int64 it is negative and refused as such.
  const nlohmann::json huge = nlohmann::json::parse(R"({"vocab_size": 18446744073709551615})");
  message = error_message([&] { config_json::positive_int(huge, "vocab_size"); }, "2^64-1 vocabulary");
  EXPECT_NE(message.find("must be a positive integer"), std::string::npos) << message;
}

}  // namespace
}  // namespace alloy
