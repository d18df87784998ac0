// Split behaviours and the GPT-2 / Llama 3 patterns on hand-worked cases.
#include "tokenizer/regex_split.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Pieces = std::vector<std::string>;

// "a,b,,c" with "," as the delimiter, in each behaviour (the Hugging Face tokenizers' definitions:
// a delimiter joins the piece before or after it, contiguous delimiters become one piece).
TEST(RegexSplit, EachBehaviourOnDelimiters) {
  const Regex comma(",");
  EXPECT_EQ(split("a,b,,c", comma, SplitBehavior::removed), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(split("a,b,,c", comma, SplitBehavior::isolated), (Pieces{"a", ",", "b", ",", ",", "c"}));
  EXPECT_EQ(split("a,b,,c", comma, SplitBehavior::merged_with_previous), (Pieces{"a,", "b,", ",", "c"}));
  EXPECT_EQ(split("a,b,,c", comma, SplitBehavior::merged_with_next), (Pieces{"a", ",b", ",", ",c"}));
  EXPECT_EQ(split("a,b,,c", comma, SplitBehavior::contiguous), (Pieces{"a", ",", "b", ",,", "c"}));
  // invert: the matches are the pieces kept, the text between them the delimiters.
  EXPECT_EQ(split("a,b,,c", Regex("[a-z]"), SplitBehavior::removed, true), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(split(",a", comma, SplitBehavior::merged_with_previous), (Pieces{",", "a"}));
}

TEST(RegexSplit, LiteralPatternIsNotARegex) {
  EXPECT_EQ(split("a.b", Regex(".", true), SplitBehavior::removed), (Pieces{"a", "b"}));
  EXPECT_EQ(split("a.b", Regex("."), SplitBehavior::removed), Pieces{});
}

// GPT-2's pattern: contractions are lowercase-only, a space sticks to the word after it, and a
// run of spaces gives all but its last space to a piece of its own (\s+(?!\S)).
TEST(RegexSplit, Gpt2Pattern) {
  const Regex gpt2(kGpt2SplitPattern);
  EXPECT_EQ(split("I'm  here's 123abc", gpt2, SplitBehavior::isolated),
            (Pieces{"I", "'m", " ", " here", "'s", " 123", "abc"}));
  EXPECT_EQ(split("DON'T", gpt2, SplitBehavior::isolated), (Pieces{"DON", "'", "T"}));
  EXPECT_EQ(split("naïve 中文\n\n", gpt2, SplitBehavior::isolated), (Pieces{"naïve", " 中文", "\n\n"}));
}

// Llama 3's pattern: case-insensitive contractions, digits in threes, newlines kept with the
// punctuation before them.
TEST(RegexSplit, Llama3Pattern) {
  const Regex llama3(
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  EXPECT_EQ(split("DON'T 1234567", llama3, SplitBehavior::isolated), (Pieces{"DON", "'T", " ", "123", "456", "7"}));
  EXPECT_EQ(split("x = 1;\n\ny", llama3, SplitBehavior::isolated), (Pieces{"x", " =", " ", "1", ";\n\n", "y"}));
}

TEST(RegexSplit, BadPatternIsAnErrorQuotingIt) {
  try {
    Regex bad("(unclosed");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(unclosed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
