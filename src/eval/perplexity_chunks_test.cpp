// The chunking rule against hand-worked chunks of a short token list.
#include "eval/perplexity_chunks.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(PerplexityChunks, CutsWholeChunksReplacesTheFirstTokenAndScoresTheSecondHalf) {
  // BOS = 1, then 2..20: 20 tokens, ctx 8 -> two chunks (tokens 0..7, 8..15), 4 left over dropped.
  std::vector<int32_t> tokens{1};
  for (int32_t t = 2; t <= 20; ++t) tokens.push_back(t);
  auto chunks = perplexity_chunks(tokens, 8, 1);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].inputs, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  // first = 4: positions 4, 5, 6 predict tokens at 5, 6, 7 (6, 7, 8); position 7 predicts nothing.
  EXPECT_EQ(chunks[0].targets, (std::vector<int32_t>{-1, -1, -1, -1, 6, 7, 8, -1}));
  EXPECT_EQ(chunks[1].inputs, (std::vector<int32_t>{1, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(chunks[1].targets, (std::vector<int32_t>{-1, -1, -1, -1, 14, 15, 16, -1}));
  EXPECT_EQ(scored_per_chunk(8), 3);
  EXPECT_EQ(scored_per_chunk(128), 63);  // ppl.md: positions 65..127 of each 128-token chunk
}

TEST(PerplexityChunks, ATextShorterThanOneChunkHasNone) {
  std::vector<int32_t> tokens{1, 5, 6};
  EXPECT_TRUE(perplexity_chunks(tokens, 8, 1).empty());
  EXPECT_THROW(perplexity_chunks(tokens, 3, 1), Error);
}

}  // namespace
}  // namespace alloy
