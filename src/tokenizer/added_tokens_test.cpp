// Splitting text at added tokens: leftmost match, longest among those starting there, and
// lstrip/rstrip taking the whitespace beside a match.
#include "tokenizer/added_tokens.h"

#include <gtest/gtest.h>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::vector<std::string> texts(const std::vector<TextSegment>& segments) {
  std::vector<std::string> out;
  for (const auto& s : segments) out.push_back(s.token ? "[" + std::to_string(s.token->id) + "]" : s.text);
  return out;
}

TEST(AddedTokens, LongestMatchAtTheLeftmostPosition) {
  const AddedToken end{1, "<end>"}, end_of_text{2, "<end_of_text>"}, of{3, "of"};
  const std::vector<const AddedToken*> tokens = {&end, &end_of_text, &of};
  EXPECT_EQ(texts(split_on_added_tokens("a<end_of_text>b<end>", tokens)),
            (std::vector<std::string>{"a", "[2]", "b", "[1]"}));
  // "of" starts before "<end>" in "proof<end>": the leftmost match is taken first.
  EXPECT_EQ(texts(split_on_added_tokens("proof<end>", tokens)), (std::vector<std::string>{"pro", "[3]", "[1]"}));
  EXPECT_TRUE(split_on_added_tokens("", tokens).empty());
}

TEST(AddedTokens, StripFlagsTakeTheWhitespaceBeside) {
  AddedToken mask{7, "<mask>"};
  mask.lstrip = true;
  AddedToken sep{8, "<sep>"};
  sep.rstrip = true;
  const std::vector<const AddedToken*> tokens = {&mask, &sep};
  EXPECT_EQ(texts(split_on_added_tokens("a  \t<mask> b<sep> \n c", tokens)),
            (std::vector<std::string>{"a", "[7]", " b", "[8]", "c"}));
  // Only whitespace before the token: the segment vanishes.
  EXPECT_EQ(texts(split_on_added_tokens("  <mask>", tokens)), (std::vector<std::string>{"[7]"}));
}

}  // namespace
}  // namespace alloy
