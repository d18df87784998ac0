// Probe pairs: how they are grouped into InfoNCE batches, and bad .jsonl files refused with the
// file and line named.
#include <gtest/gtest.h>

#include "model/encoder_test_models.h"
#include "stats/probe_pairs.h"
#include "../../tests/test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::TempDir;
using testing::write_file;

std::vector<int64_t> groups(int pairs, int batch, int64_t max_pairs) {
  const EncoderConfig config = encoder_test_models::read_config(encoder_test_models::tiny_config("roberta"), "");
  const auto seqs = encoder_test_models::random_sequences(config, 2 * pairs, 5, 3);
  const std::vector<std::vector<int32_t>> q(seqs.begin(), seqs.begin() + pairs), p(seqs.begin() + pairs, seqs.end());
  const PairProbe probe = pair_probe_batches(config, q, p, batch, max_pairs);
  EXPECT_EQ(probe.batches.size(), probe.pairs.size());
  for (size_t b = 0; b < probe.batches.size(); ++b) EXPECT_EQ(probe.batches[b].batch, 2 * probe.pairs[b]);
  return probe.pairs;
}

TEST(ProbePairs, GroupsInFileOrderWithALoneLastPairJoiningTheOneBefore) {
  EXPECT_EQ(groups(6, 2, 0), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(groups(7, 3, 0), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(groups(8, 3, 0), (std::vector<int64_t>{3, 3, 2}));
  EXPECT_EQ(groups(7, 3, 5), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(groups(3, 8, 0), (std::vector<int64_t>{3}));
}

TEST(ProbePairs, BatchOfOneAndNoPairAreRefused) {
  EXPECT_THROW(groups(4, 1, 0), Error);
  const EncoderConfig config = encoder_test_models::read_config(encoder_test_models::tiny_config("bert"), "");
  EXPECT_THROW(pair_probe_batches(config, {}, {}, 2, 0), Error);
}

TEST(ProbePairs, BadJsonlNamesTheFileAndLine) {
  TempDir tmp;
  const EncoderConfig config = encoder_test_models::read_config(encoder_test_models::tiny_config("bert"), "");
  struct Case {
    std::string text, message;
  } cases[] = {
      {"{\"query\": \"a\", \"positive\": \"b\"}\n{\"query\": \"c\"}\n", "p.jsonl:2: no \"positive\" field"},
      {"\n\n", "p.jsonl: no pair in the file"},
      {"", "p.jsonl: no pair in the file"},
      {"{\"query\": \"a\", \"positive\": \"b\"}\nquery, positive\n", "p.jsonl:2: not valid JSON"},
      {"{\"query\": 3, \"positive\": \"b\"}\n", "p.jsonl:1: \"query\" must be a string"},
  };
  for (const Case& c : cases) {
    write_file(tmp / "p.jsonl", c.text);
    try {
      // The file is read before the model directory (absent here) is looked at.
      load_probe_pairs(tmp / "no-model", config, tmp / "p.jsonl", 2, 0);
      ADD_FAILURE() << "accepted: " << c.text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace alloy
