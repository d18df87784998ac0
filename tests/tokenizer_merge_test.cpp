// Vocabulary merging end to end (tokenizer_source / tokenizer:, spec §5): the cases of mergekit's
// tests/test_tokenizer.py rebuilt on a fixture family whose models have different vocabularies,
// plus vocabularies in another order and tokens only some models share. Every output row is
// checked against the row this file derives from the input matrices and tokenizer files; the
// written tokenizer is loaded by Hugging Face's tokenizers.js (skipped where node is absent).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "exec/run_merge.h"
#include "test_paths.h"
#include "test_support.h"
#include "tokenizer/hf_tokenizer.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::error_message;
using testing::TempDir;

using Matrix = std::vector<std::vector<double>>;  // [row][column]

json read_json(const fs::path& p) { return json::parse(testing::read_file(p)); }
void write_json(const fs::path& p, const json& v) { testing::write_file(p, v.dump(1)); }

// The fixture family, written once: base (64 tokens, <unk> <s> </s> added), ft1 "padded" (4 added
// tokens <UNUSED_0..3> past its 64 rows), ft2 "chatml" (66 rows: <|im_start|>, <|im_end|> added
// at 64, 65), ft3 "shuffled" (ids 3..63 in reverse order, and base's token 63 renamed "_novel"),
// ft4 "renamed" (token 63 renamed "_novel").
class TokenizerMerge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    FixtureSpec spec = testing::small_llama(1);
    spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense, TaskKind::Dense, TaskKind::Dense};
    spec.extra_vocab = 2;
    spec.extra_vocab_fine_tune = 2;
    write_fixture_family(spec, dir_->path());
    const fs::path root = dir_->path();

    json padded = read_json(root / "ft1/tokenizer.json");
    for (int i = 0; i < 4; ++i)
      padded["added_tokens"].push_back(json{{"id", 64 + i}, {"content", "<UNUSED_" + std::to_string(i) + ">"},
                                            {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                            {"normalized", false}, {"special", true}});
    write_json(root / "ft1/tokenizer.json", padded);

    json chatml = read_json(root / "ft2/tokenizer.json");
    for (json& e : chatml["added_tokens"]) {
      if (e["id"] == 64) e["content"] = "<|im_start|>";
      if (e["id"] == 65) e["content"] = "<|im_end|>";
    }
    write_json(root / "ft2/tokenizer.json", chatml);

    json shuffled = read_json(root / "ft3/tokenizer.json");
    json& vocab = shuffled["model"]["vocab"];
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
      if (it.value() >= 3) it.value() = 66 - it.value().get<int>();
    rename_token(shuffled, base_token(63), "_novel");
    write_json(root / "ft3/tokenizer.json", shuffled);

    json renamed = read_json(root / "ft4/tokenizer.json");
    rename_token(renamed, base_token(63), "_novel");
    write_json(root / "ft4/tokenizer.json", renamed);
  }
  static void TearDownTestSuite() { delete dir_; }

  static void rename_token(json& tokenizer, const std::string& from, const std::string& to) {
    json& vocab = tokenizer["model"]["vocab"];
    const json id = vocab[from];
    vocab.erase(from);
    vocab[to] = id;
  }

  static fs::path root() { return dir_->path(); }

  // The token with `id` in base's vocabulary.
  static std::string base_token(int64_t id) {
    const json vocab = read_json(root() / "base/tokenizer.json")["model"]["vocab"];
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
      if (it.value() == id) return it.key();
    ADD_FAILURE() << "base has no id " << id;
    return "";
  }

  // A merge of `models` with base as base_model (linear: weight 1 each, so the mean); `extra` is
  // appended to the recipe, whose first line past the models is 11 for three linear models.
  // Returns the output directory.
  fs::path merge(const std::vector<std::string>& models, const std::string& extra,
                 const std::string& method = "linear") {
    std::string recipe = "merge_method: " + method + "\nbase_model: base\ndtype: float32\nmodels:\n";
    for (const std::string& m : models)
      recipe += "  - model: " + m + (method == "linear" ? "\n    parameters: {weight: 1.0}\n" : "\n");
    recipe += extra;
    const fs::path file = root() / "recipe.yml";
    testing::write_file(file, recipe);
    MergeOptions opt;
    opt.recipe = file;
    opt.out = out_.path() / "out";
    opt.threads = 1;
    opt.fsync = false;
    opt.write_model_card = false;
    opt.force = true;
    run_merge(opt);
    return opt.out;
  }

  static Matrix matrix(const fs::path& model, const std::string& name) {
    auto ck = Checkpoint::open(model);
    const TensorView v = ck->tensor(name);
    const std::vector<double> flat = testing::tensor_values(*ck, name);
    Matrix m(static_cast<size_t>(v.shape[0]));
    for (size_t r = 0; r < m.size(); ++r)
      m[r].assign(flat.begin() + static_cast<long>(r * v.shape[1]), flat.begin() + static_cast<long>((r + 1) * v.shape[1]));
    return m;
  }

  // Checks every row of the output's embedding and LM head against want(tensor, inputs, row).
  template <class Want>
  void expect_rows(const fs::path& out, const std::vector<std::string>& models, int64_t rows, Want want) {
    for (const std::string name : {"model.embed_tokens.weight", "lm_head.weight"}) {
      std::map<std::string, Matrix> in;
      for (const std::string& m : models) in[m] = matrix(root() / m, name);
      const Matrix got = matrix(out, name);
      ASSERT_EQ(static_cast<int64_t>(got.size()), rows) << name;
      for (int64_t r = 0; r < rows; ++r)
        testing::expect_close(got[static_cast<size_t>(r)], want(in, r), DType::F32, name + " row " + std::to_string(r));
    }
  }

  static std::vector<double> mean(const std::vector<std::vector<double>>& rows) {
    std::vector<double> out(rows.front().size(), 0.0);
    for (const auto& r : rows)
      for (size_t i = 0; i < r.size(); ++i) out[i] += r[i] / static_cast<double>(rows.size());
    return out;
  }
  // A row computed in double and stored as f32 (alloy rounds computed rows once).
  static std::vector<double> as_f32(std::vector<double> row) {
    for (double& x : row) x = static_cast<float>(x);
    return row;
  }

  static int64_t vocab_size(const fs::path& out) { return read_json(out / "config.json")["vocab_size"]; }
  static json tokenizer(const fs::path& out) { return read_json(out / "tokenizer.json"); }
  static std::optional<int64_t> id_of(const json& tok, const std::string& token) {
    for (const json& e : tok["added_tokens"])
      if (e["content"] == token) return e["id"].get<int64_t>();
    if (tok["model"]["vocab"].contains(token)) return tok["model"]["vocab"][token].get<int64_t>();
    return std::nullopt;
  }
  static size_t token_count(const json& tok) {
    std::set<int64_t> ids;
    for (const json& e : tok["added_tokens"]) ids.insert(e["id"].get<int64_t>());
    for (auto it = tok["model"]["vocab"].begin(); it != tok["model"]["vocab"].end(); ++it) ids.insert(it.value().get<int64_t>());
    return ids.size();
  }

  static TempDir* dir_;
  TempDir out_;
};
TempDir* TokenizerMerge::dir_ = nullptr;

const std::vector<std::string> kThree = {"base", "ft1", "ft2"};

// test_legacy_mode: no tokenizer setting copies base's tokenizer; embeddings keep base's 64 rows.
TEST_F(TokenizerMerge, NoSettingCopiesTheBaseTokenizer) {
  const fs::path out = merge(kThree, "");
  EXPECT_EQ(testing::read_file(out / "tokenizer.json"), testing::read_file(root() / "base/tokenizer.json"));
  EXPECT_EQ(tokenizer(out)["added_tokens"].size(), 3u);
  EXPECT_EQ(vocab_size(out), 64);
}

// test_source_base: the base's 64 tokens; every model's rows 0..63 are its own.
TEST_F(TokenizerMerge, SourceBaseKeepsTheBaseVocabulary) {
  const fs::path out = merge(kThree, "tokenizer_source: base\n");
  const json tok = tokenizer(out);
  EXPECT_EQ(token_count(tok), 64u);
  EXPECT_EQ(tok["added_tokens"].size(), 3u);
  EXPECT_EQ(vocab_size(out), 64);
  expect_rows(out, kThree, 64, [](auto& in, int64_t r) {
    return mean({in["base"][r], in["ft1"][r], in["ft2"][r]});
  });
}

// test_source_union: 66 tokens, 5 added; the <UNUSED_*> tokens past ft1's rows are not taken;
// the chat tokens only ft2 has take ft2's rows in every model.
TEST_F(TokenizerMerge, UnionAddsTheTokensOfEveryModel) {
  const fs::path out = merge(kThree, "tokenizer_source: union\n");
  const json tok = tokenizer(out);
  EXPECT_EQ(token_count(tok), 66u);
  EXPECT_EQ(tok["added_tokens"].size(), 5u);
  EXPECT_EQ(id_of(tok, "<|im_start|>"), 64);
  EXPECT_EQ(id_of(tok, "<|im_end|>"), 65);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(id_of(tok, "<UNUSED_" + std::to_string(i) + ">"));
  EXPECT_EQ(vocab_size(out), 66);
  EXPECT_EQ(read_json(out / "tokenizer_config.json")["added_tokens_decoder"]["65"]["content"], "<|im_end|>");
  expect_rows(out, kThree, 66, [](auto& in, int64_t r) {
    if (r >= 64) return in["ft2"][r];
    return mean({in["base"][r], in["ft1"][r], in["ft2"][r]});
  });
}

// test_source_model: ft2's tokenizer as it is (66 tokens).
TEST_F(TokenizerMerge, SourceModelTakesThatModelsTokenizer) {
  const fs::path out = merge(kThree, "tokenizer_source: ft2\n");
  const json tok = tokenizer(out);
  EXPECT_EQ(token_count(tok), 66u);
  EXPECT_EQ(id_of(tok, "<|im_start|>"), 64);
  EXPECT_EQ(tok, read_json(root() / "ft2/tokenizer.json"));
  expect_rows(out, kThree, 66, [](auto& in, int64_t r) {
    if (r >= 64) return in["ft2"][r];
    return mean({in["base"][r], in["ft1"][r], in["ft2"][r]});
  });
}

// test_slerp_union: slerp of base and ft2 at t = 0.5 over the union. Slerp weighs whole matrices
// (spec §3.2), here base's laid out (its 64 rows, then ft2's rows of the chat tokens) and ft2's;
// the weights are computed here in float64.
TEST_F(TokenizerMerge, SlerpOverTheUnion) {
  const fs::path out = merge({"base", "ft2"}, "tokenizer_source: union\nparameters: {t: 0.5}\n", "slerp");
  EXPECT_EQ(token_count(tokenizer(out)), 66u);
  for (const std::string name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    const Matrix got = matrix(out, name), ft2 = matrix(root() / "ft2", name);
    Matrix base = matrix(root() / "base", name);
    base.push_back(ft2[64]);
    base.push_back(ft2[65]);
    double aa = 0, bb = 0, ab = 0;
    for (size_t r = 0; r < 66; ++r)
      for (size_t i = 0; i < base[r].size(); ++i) {
        aa += base[r][i] * base[r][i];
        bb += ft2[r][i] * ft2[r][i];
        ab += base[r][i] * ft2[r][i];
      }
    const double theta = std::acos(ab / std::sqrt(aa * bb));
    ASSERT_LT(ab / std::sqrt(aa * bb), 0.9995);  // not the lerp branch
    const double wa = std::sin(theta / 2) / std::sin(theta), wb = wa;  // t = 0.5
    ASSERT_EQ(got.size(), 66u);
    for (size_t r = 0; r < 66; ++r)
      for (size_t i = 0; i < got[r].size(); ++i)
        ASSERT_NEAR(got[r][i], wa * base[r][i] + wb * ft2[r][i], 1e-8) << name << " row " << r;
  }
}

// test_force_token: forced tokens take the named model's row in every model.
TEST_F(TokenizerMerge, ForcedTokensTakeTheNamedModelsRow) {
  const fs::path out = merge(kThree, "tokenizer:\n  source: union\n  tokens:\n    \"" + base_token(10) +
                                         "\":\n      source: ft2\n      force: true\n    \"" + base_token(11) +
                                         "\":\n      source: base\n      force: true\n");
  expect_rows(out, kThree, 66, [](auto& in, int64_t r) {
    if (r == 10 || r >= 64) return in["ft2"][r];
    if (r == 11) return in["base"][r];
    return mean({in["base"][r], in["ft1"][r], in["ft2"][r]});
  });
}

// test_model_token_id: a row by id (ft2's row 64) and by token string (base's "<s>", id 1).
TEST_F(TokenizerMerge, ModelTokenByIdAndByString) {
  const fs::path out =
      merge(kThree, "tokenizer:\n  source: base\n  tokens:\n    \"" + base_token(20) +
                        "\":\n      source: {kind: model_token, model: ft2, token_id: 64}\n      force: true\n    \"" +
                        base_token(21) + "\":\n      source: {kind: model_token, model: base, token: \"<s>\"}\n"
                        "      force: true\n");
  expect_rows(out, kThree, 64, [](auto& in, int64_t r) {
    if (r == 20) return in["ft2"][64];
    if (r == 21) return in["base"][1];
    return mean({in["base"][r], in["ft1"][r], in["ft2"][r]});
  });
}

// test_pad_to_multiple_of: 66 tokens padded to 80 rows; config says 80, the tokenizer 66; each
// model's padding rows are the mean of its 66 laid-out rows.
TEST_F(TokenizerMerge, PadToMultipleOf) {
  const fs::path out = merge(kThree, "tokenizer:\n  source: union\n  pad_to_multiple_of: 16\n");
  EXPECT_EQ(token_count(tokenizer(out)), 66u);
  EXPECT_EQ(vocab_size(out), 80);
  expect_rows(out, kThree, 80, [](auto& in, int64_t r) {
    auto laid_out = [&](const std::string& m, int64_t row) { return row >= 64 ? in["ft2"][row] : in[m][row]; };
    if (r < 66) return mean({laid_out("base", r), laid_out("ft1", r), laid_out("ft2", r)});
    std::vector<std::vector<double>> pads;
    for (const std::string m : {"base", "ft1", "ft2"}) {
      std::vector<std::vector<double>> all;
      for (int64_t i = 0; i < 66; ++i) all.push_back(laid_out(m, i));
      pads.push_back(as_f32(mean(all)));
    }
    return mean(pads);
  });
}

// Vocabularies in another order and a token two models share that the base lacks: ft3's rows
// are found by token, not by id; "_novel" (ft3 and ft4, not base) takes their mean in the base;
// base's token 63 (only the base has it) takes the base's row everywhere; a zero token is added.
TEST_F(TokenizerMerge, DifferentVocabulariesAreAlignedByToken) {
  const fs::path out = merge({"base", "ft3", "ft4"}, "tokenizer:\n  source: union\n  tokens:\n"
                                                     "    \"<|zero|>\":\n      source: {kind: zero}\n");
  const json tok = tokenizer(out);
  EXPECT_EQ(id_of(tok, "_novel"), 64);
  EXPECT_EQ(id_of(tok, "<|zero|>"), 65);
  expect_rows(out, {"base", "ft3", "ft4"}, 66, [](auto& in, int64_t r) {
    auto shuffled = [](int64_t id) { return id < 3 ? id : 66 - id; };
    if (r == 63) return in["base"][63];
    if (r == 64) {
      const std::vector<double> avg = as_f32(mean({in["ft3"][shuffled(63)], in["ft4"][63]}));
      return mean({avg, in["ft3"][shuffled(63)], in["ft4"][63]});
    }
    if (r == 65) return std::vector<double>(in["base"][0].size(), 0.0);
    return mean({in["base"][r], in["ft3"][shuffled(r)], in["ft4"][r]});
  });
}

// Tied models stay tied: no lm_head is written, and the embedding, laid out in the union, serves
// as both.
TEST(TokenizerMergeTied, TiedEmbeddingsStayTied) {
  TempDir dir;
  FixtureSpec spec = testing::small_llama(1);
  spec.tied = true;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  spec.extra_vocab = 2;
  spec.extra_vocab_fine_tune = 2;
  write_fixture_family(spec, dir.path());
  testing::write_file(dir / "recipe.yml", "merge_method: linear\nbase_model: base\nmodels:\n  - model: base\n"
                                          "    parameters: {weight: 1.0}\n  - model: ft2\n    parameters: {weight: 1.0}\n"
                                          "tokenizer_source: union\n");
  MergeOptions opt;
  opt.recipe = dir / "recipe.yml";
  opt.out = dir / "out";
  opt.threads = 1;
  opt.fsync = false;
  run_merge(opt);
  auto out = Checkpoint::open(dir / "out");
  EXPECT_FALSE(out->has("lm_head.weight"));
  EXPECT_EQ(out->config()["vocab_size"], 66);
  EXPECT_EQ(out->config()["tie_word_embeddings"], true);
  auto base = Checkpoint::open(dir / "base"), ft2 = Checkpoint::open(dir / "ft2");
  const std::vector<double> got = testing::tensor_values(*out, "model.embed_tokens.weight");
  const std::vector<double> b = testing::tensor_values(*base, "model.embed_tokens.weight");
  const std::vector<double> f = testing::tensor_values(*ft2, "model.embed_tokens.weight");
  const size_t width = static_cast<size_t>(spec.dims.hidden);
  ASSERT_EQ(got.size(), 66 * width);
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = i < 64 * width ? (b[i] + f[i]) / 2 : f[i];
    ASSERT_LE(std::abs(got[i] - want), testing::ulp_of(want, DType::F32)) << "element " << i;
  }
}

// Bad input names the recipe line.
TEST_F(TokenizerMerge, BadInputNamesTheRecipeLine) {
  const std::string missing = error_message(
      [&] { merge(kThree, "tokenizer:\n  tokens:\n    \"<|nope|>\":\n      source: base\n"); }, "a token base lacks");
  EXPECT_NE(missing.find("recipe.yml:13: tokenizer.tokens '<|nope|>': model 'base' has no token"), std::string::npos)
      << missing;
  const std::string by_string = error_message(
      [&] { merge(kThree, "tokenizer:\n  tokens:\n    x:\n      source: {kind: model_token, model: ft1, token: nope}\n"); },
      "a token string ft1 lacks");
  EXPECT_NE(by_string.find("recipe.yml:13:"), std::string::npos) << by_string;
  EXPECT_NE(by_string.find("has no token 'nope'"), std::string::npos) << by_string;
  const std::string past = error_message(
      [&] { merge(kThree, "tokenizer:\n  tokens:\n    x:\n      source: {kind: model_token, model: ft1, token_id: 64}\n"); },
      "a row past ft1's");
  EXPECT_NE(past.find("token_id 64 is past model 'ft1''s 64 embedding rows"), std::string::npos) << past;
  const std::string unknown = error_message([&] { merge(kThree, "tokenizer_source: ft9\n"); }, "an unknown model");
  EXPECT_NE(unknown.find("recipe.yml:11: tokenizer_source: model 'ft9' is not among the recipe's models"),
            std::string::npos)
      << unknown;
}

TEST_F(TokenizerMerge, UnsupportedTokenizerModelIsRefused) {
  TempDir copy;
  fs::copy(root() / "ft1", copy.path() / "ft1");
  json tok = read_json(copy.path() / "ft1/tokenizer.json");
  tok["model"]["type"] = "WordLevel";
  write_json(copy.path() / "ft1/tokenizer.json", tok);
  const std::string msg = error_message(
      [&] { merge({"base", (copy.path() / "ft1").string()}, "tokenizer_source: union\n"); }, "a WordLevel tokenizer");
  EXPECT_NE(msg.find("recipe.yml:7: model '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model type 'WordLevel' is not supported"), std::string::npos) << msg;
}

// Why tokenizers.js cannot run here, or empty when it can.
std::string js_reference_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!fs::exists(fs::path(ALLOY_SOURCE_DIR) / "tests/js/node_modules/@huggingface/tokenizers"))
    return "@huggingface/tokenizers is not installed: run `npm ci --prefix tests/js` (scripts/setup-js.sh)";
  return "";
}

// The written tokenizer loads in Hugging Face's tokenizers.js and encodes as alloy's tokenizer
// says, the chat tokens included.
TEST_F(TokenizerMerge, WrittenTokenizerLoadsInTokenizersJs) {
  if (auto why = js_reference_missing(); !why.empty()) GTEST_SKIP() << why;
  const fs::path out = merge(kThree, "tokenizer_source: union\n");
  const std::vector<std::string> texts = {"<|im_start|>the cat sat<|im_end|>", "hello world", "<s>and</s><|im_end|>"};
  write_json(out_.path() / "texts.json", texts);
  const std::string command = "node '" + (fs::path(ALLOY_SOURCE_DIR) / "tests/js/reference_ids.mjs").string() + "' '" +
                              out.string() + "' '" + (out_.path() / "texts.json").string() + "' > '" +
                              (out_.path() / "ids.json").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto js = read_json(out_.path() / "ids.json").get<std::vector<std::vector<int32_t>>>();
  HfTokenizer alloy_tok(out / "tokenizer.json", out / "tokenizer_config.json");
  ASSERT_EQ(js.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(alloy_tok.encode(texts[i]), js[i]) << texts[i];
  EXPECT_EQ(js[0].front(), 64);
  EXPECT_EQ(js[0].back(), 65);
}

}  // namespace
}  // namespace alloy
