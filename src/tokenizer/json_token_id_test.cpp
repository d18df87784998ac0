#include "tokenizer/json_token_id.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string refusal(const char* json_text) {
  try {
    json_token_id(nlohmann::json::parse(json_text), "t.json: vocab 'x'");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonTokenId, ReadsWholeNumbersThatFitAnId) {
  EXPECT_EQ(json_token_id(nlohmann::json::parse("0"), "t"), 0);
  EXPECT_EQ(json_token_id(nlohmann::json::parse("2147483647"), "t"), 2147483647);
}

// The fuzzer's input had an added token id of 4.44e30: get<int32_t>() on it is undefined behaviour.
TEST(JsonTokenId, RefusesFloatsNegativesAndIdsPastInt32) {
  EXPECT_EQ(refusal("4.44e30"), "t.json: vocab 'x': token id 4.44e+30 is not a whole number from 0 to 2147483647");
  EXPECT_EQ(refusal("2.0"), "t.json: vocab 'x': token id 2.0 is not a whole number from 0 to 2147483647");
  EXPECT_EQ(refusal("-1"), "t.json: vocab 'x': token id -1 is not a whole number from 0 to 2147483647");
  EXPECT_EQ(refusal("2147483648"), "t.json: vocab 'x': token id 2147483648 is not a whole number from 0 to 2147483647");
  EXPECT_EQ(refusal("\"7\""), "t.json: vocab 'x': token id \"7\" is not a whole number from 0 to 2147483647");
}

}  // namespace ALLOY_TEST_FILE_NAMESPACE
}  // namespace alloy
