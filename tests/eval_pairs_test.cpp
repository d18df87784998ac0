// End-to-end tests of `alloy eval --pairs` on a BERT fixture family: the CLI's InfoNCE loss and
// accuracy equal the ones computed here with the library (each text wrapped in the fixture
// tokenizer's <s> ... </s> by hand, queries and positives embedded apart in float64, the
// in-batch groups cut by hand), the pooling read from 1_Pooling/config.json, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "model/encoder.h"
#include "model/info_nce.h"
#include "model/weight_source.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::run_alloy;
using testing::run_alloy_apart;
using testing::TempDir;
using testing::write_file;

const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"the cat sat", "a cat was sitting"},     {"rain falls", "water from the sky"},
    {"an old tree", "the oak is old"},        {"quick brown fox", "the fox jumps"},
    {"bread and milk", "breakfast at home"},
};

std::string pairs_jsonl() {
  std::string out;
  for (const auto& [q, p] : kPairs) out += nlohmann::json{{"query", q}, {"positive", p}, {"id", 1}}.dump() + "\n";
  return out;
}

struct Expected {
  double loss = 0, accuracy = 0;
};

// The library's numbers for `model_dir`, groups of `batch` pairs.
Expected library_result(const fs::path& model_dir, Pooling pooling, double temperature, size_t batch) {
  auto checkpoint = Checkpoint::open(model_dir);
  CheckpointWeights weights(checkpoint);
  const EncoderConfig config = encoder_config_from_json(
      checkpoint->config(), [&](const std::string& n) { return checkpoint->has(n); });
  const Encoder<double> model(config, weights);
  const auto tokenizer = load_tokenizer(model_dir);
  const int32_t open = *tokenizer->token_to_id("<s>"), close = *tokenizer->token_to_id("</s>");
  auto ids = [&](const std::string& text) {
    std::vector<int32_t> out{open};
    for (int32_t id : tokenizer->encode(text)) out.push_back(id);
    out.push_back(close);
    return out;
  };
  double loss_sum = 0, correct = 0;
  for (size_t start = 0; start < kPairs.size(); start += batch) {
    std::vector<std::vector<int32_t>> q, p;
    for (size_t i = start; i < std::min(kPairs.size(), start + batch); ++i) {
      q.push_back(ids(kPairs[i].first));
      p.push_back(ids(kPairs[i].second));
    }
    const std::vector<double> eq = model.embed(pad_sequences(q, config.pad_token_id), {pooling, false});
    const std::vector<double> ep = model.embed(pad_sequences(p, config.pad_token_id), {pooling, false});
    const InfoNceResult r = info_nce(eq, ep, static_cast<int64_t>(q.size()), config.hidden_size, temperature, false);
    loss_sum += r.loss * double(q.size());
    correct += double(r.correct);
  }
  return {loss_sum / double(kPairs.size()), correct / double(kPairs.size())};
}

class EvalPairsE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto r = run_alloy("fixture " + (dir_->path() / "family").string() +
                             " --family bert --fine-tunes 1 --dtype float32 --hidden 32 --heads 4");
    ASSERT_EQ(r.status, 0) << r.output;
    write_file(dir_->path() / "pairs.jsonl", pairs_jsonl());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path family() { return dir_->path() / "family"; }
  static fs::path pairs() { return dir_->path() / "pairs.jsonl"; }
  static TempDir* dir_;
};
TempDir* EvalPairsE2E::dir_ = nullptr;

TEST_F(EvalPairsE2E, LossAndAccuracyEqualTheLibrarysInEachBatchGrouping) {
  for (const char* batch : {"2", "5"}) {
    SCOPED_TRACE(batch);
    const auto r = run_alloy_apart({"eval", (family() / "base").string(), (family() / "ft1").string(), "--pairs",
                                    pairs().string(), "--batch", batch, "--temperature", "0.1", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json results = nlohmann::json::parse(r.out).at("results");
    ASSERT_EQ(results.size(), 2u);
    for (const nlohmann::json& row : results) {
      const Expected want = library_result(row.at("model").get<std::string>(), Pooling::kMean, 0.1, std::stoul(batch));
      EXPECT_EQ(row.at("pairs"), pairs().string());
      EXPECT_EQ(row.at("count"), 5);
      EXPECT_NEAR(row.at("loss").get<double>(), want.loss, 1e-4 * want.loss);
      EXPECT_DOUBLE_EQ(row.at("accuracy").get<double>(), want.accuracy);
    }
    // The two models differ, and the loss is not the chance level of a uniform softmax exactly.
    EXPECT_NE(results[0].at("loss"), results[1].at("loss"));
  }
}

TEST_F(EvalPairsE2E, PoolingComesFromSentenceTransformersConfigUnlessGiven) {
  const fs::path model = dir_->path() / "st";
  fs::copy(family() / "base", model, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::create_directories(model / "1_Pooling");
  write_file(model / "1_Pooling/config.json",
             R"({"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})");
  auto loss_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"eval", model.string(), "--pairs", pairs().string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_alloy_apart(args);
    EXPECT_EQ(r.status, 0) << r.err;
    return nlohmann::json::parse(r.out).at("results").at(0).at("loss").get<double>();
  };
  const Expected cls = library_result(model, Pooling::kCls, 0.05, 32);
  const Expected mean = library_result(model, Pooling::kMean, 0.05, 32);
  EXPECT_NEAR(loss_of({}), cls.loss, 1e-4 * cls.loss);
  EXPECT_NEAR(loss_of({"--pooling", "mean"}), mean.loss, 1e-4 * mean.loss);

  write_file(model / "1_Pooling/config.json", R"({"pooling_mode_max_tokens": true})");
  const auto r = run_alloy_apart({"eval", model.string(), "--pairs", pairs().string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("pooling_mode_max_tokens"), std::string::npos) << r.err;
}

TEST_F(EvalPairsE2E, TableNamesEachModel) {
  const auto r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", pairs().string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos);
  EXPECT_NE(r.out.find("pairs.jsonl"), std::string::npos);
  EXPECT_NE(r.out.find((family() / "base").string()), std::string::npos) << r.out;
}

TEST_F(EvalPairsE2E, ErrorsNameTheLineAndTheProblem) {
  const fs::path bad = dir_->path() / "bad.jsonl";
  write_file(bad, "{\"query\": \"a\", \"positive\": \"b\"}\n\n{\"query\": \"a\"}\n");
  auto r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", bad.string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("bad.jsonl:3: no \"positive\" field"), std::string::npos) << r.err;

  write_file(bad, "{\"query\": \"a\", \"positive\": 3}\n");
  r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", bad.string()});
  EXPECT_NE(r.err.find("bad.jsonl:1: \"positive\" must be a string"), std::string::npos) << r.err;

  write_file(bad, "not json\n");
  r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", bad.string()});
  EXPECT_NE(r.err.find("bad.jsonl:1: not valid JSON"), std::string::npos) << r.err;

  r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", pairs().string(), "--pooling", "max"});
  EXPECT_NE(r.err.find("--pooling: 'max'"), std::string::npos) << r.err;

  r = run_alloy_apart({"eval", (family() / "base").string(), "--pairs", pairs().string(), "--text", bad.string()});
  EXPECT_NE(r.err.find("give one or the other"), std::string::npos) << r.err;

  const fs::path llama = dir_->path() / "llama";
  ASSERT_EQ(run_alloy("fixture " + llama.string() + " --fine-tunes 1").status, 0);
  r = run_alloy_apart({"eval", (llama / "base").string(), "--pairs", pairs().string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("model_type"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace alloy
