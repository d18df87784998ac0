// The decoder on real weights: Karpathy's stories260K (a trained Llama with GQA and an untied
// head) against llama2.c's NLL of the golden sentence. llama.cpp's perplexity table is checked
// end to end, tokenizer included, by tests/eval_test.cpp.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cmath>

#include "io/checkpoint.h"
#include "model/decoder.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

const std::filesystem::path kData = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K";

// The golden sentence has no runs of spaces, so SentencePiece's own library gives the ids
// llama2.c's tokenizer gave; BOS first.
std::vector<int32_t> encode_with_bos(const std::filesystem::path& model_dir, const std::string& text) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load((model_dir / "tokenizer.model").string());
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::vector<int> ids;
  EXPECT_TRUE(sp.Encode(text, &ids).ok());
  std::vector<int32_t> out{1};
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

struct Loaded {
  std::shared_ptr<const Checkpoint> checkpoint;
  CheckpointWeights weights;
  DecoderLM<float> model;
  explicit Loaded(const std::filesystem::path& dir)
      : checkpoint(Checkpoint::open(dir)),
        weights(checkpoint),
        model(decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight")), weights) {}
};

TEST(Stories260K, GoldenSentenceNllMatchesLlama2c) {
  const nlohmann::json golden = read_json_file(kData / "golden.json");
  const Loaded m(kData / "base");
  std::vector<int32_t> tokens = encode_with_bos(kData / "base", golden["sentence"].get<std::string>());
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), golden["n_tokens"].get<int64_t>());
  const int64_t n = static_cast<int64_t>(tokens.size());
  const LossSum loss = m.model.loss(next_token_batch(tokens, 1, n));
  EXPECT_EQ(loss.count, n - 1);
  EXPECT_NEAR(loss.nll, golden["nll"].get<double>(), golden["tolerance"].get<double>());
  EXPECT_NEAR(std::exp(loss.mean()), golden["perplexity"].get<double>(), 1e-3);
}

}  // namespace
}  // namespace alloy
