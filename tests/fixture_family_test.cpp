// Tests for the fixture generator (tools/fixtures/): tensor names and shapes per family, config.json,
// tokenizer files, sharding, determinism, task vector structure, extra vocabulary, the size parser
// and the `alloy fixture` command. Expectations are computed here from the dimensions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/fixture_family.h"
#include "fixtures/fixture_random.h"
#include "util/size_text.h"
#include "io/checkpoint.h"
#include "test_support.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

class FixtureTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

FixtureSpec small_spec(Family family) {
  FixtureSpec s;
  s.family = family;
  s.dims.layers = 2;
  s.dims.hidden = 32;
  s.dims.intermediate = 48;
  s.dims.vocab = 64;
  s.dims.heads = 4;
  s.dims.kv_heads = family == Family::Llama ? 2 : 0;
  s.dims.max_positions = 16;
  s.seed = 7;
  return s;
}

std::vector<float> values_of(const Checkpoint& ck, const std::string& name) {
  TensorView v = ck.tensor(name);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

using ShapeMap = std::map<std::string, Shape>;

ShapeMap shapes_of(const Checkpoint& ck) {
  ShapeMap out;
  for (const auto& name : ck.tensor_names()) out[name] = ck.tensor(name).shape;
  return out;
}

ShapeMap expected_llama(int64_t layers, int64_t h, int64_t inter, int64_t vocab, int64_t heads,
                        int64_t kv_heads, bool tied) {
  const int64_t hd = h / heads;
  ShapeMap m{{"model.embed_tokens.weight", {vocab, h}}, {"model.norm.weight", {h}}};
  if (!tied) m["lm_head.weight"] = {vocab, h};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    m[p + "input_layernorm.weight"] = {h};
    m[p + "post_attention_layernorm.weight"] = {h};
    m[p + "self_attn.q_proj.weight"] = {heads * hd, h};
    m[p + "self_attn.k_proj.weight"] = {kv_heads * hd, h};
    m[p + "self_attn.v_proj.weight"] = {kv_heads * hd, h};
    m[p + "self_attn.o_proj.weight"] = {h, heads * hd};
    m[p + "mlp.gate_proj.weight"] = {inter, h};
    m[p + "mlp.up_proj.weight"] = {inter, h};
    m[p + "mlp.down_proj.weight"] = {h, inter};
  }
  return m;
}

ShapeMap expected_gpt2(int64_t layers, int64_t h, int64_t inter, int64_t vocab, int64_t positions) {
  ShapeMap m{{"transformer.wte.weight", {vocab, h}},
             {"transformer.wpe.weight", {positions, h}},
             {"transformer.ln_f.weight", {h}},
             {"transformer.ln_f.bias", {h}}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = cat("transformer.h.", l, ".");
    for (const char* ln : {"ln_1", "ln_2"}) {
      m[p + ln + ".weight"] = {h};
      m[p + ln + ".bias"] = {h};
    }
    m[p + "attn.c_attn.weight"] = {h, 3 * h};
    m[p + "attn.c_attn.bias"] = {3 * h};
    m[p + "attn.c_proj.weight"] = {h, h};
    m[p + "attn.c_proj.bias"] = {h};
    m[p + "mlp.c_fc.weight"] = {h, inter};
    m[p + "mlp.c_fc.bias"] = {inter};
    m[p + "mlp.c_proj.weight"] = {inter, h};
    m[p + "mlp.c_proj.bias"] = {h};
  }
  return m;
}

ShapeMap expected_bert(int64_t layers, int64_t h, int64_t inter, int64_t vocab, int64_t positions) {
  ShapeMap m{{"bert.embeddings.word_embeddings.weight", {vocab, h}},
             {"bert.embeddings.position_embeddings.weight", {positions, h}},
             {"bert.embeddings.token_type_embeddings.weight", {2, h}},
             {"bert.embeddings.LayerNorm.weight", {h}},
             {"bert.embeddings.LayerNorm.bias", {h}},
             {"bert.embeddings.position_ids", {1, positions}},
             {"cls.predictions.bias", {vocab}},
             {"cls.predictions.transform.dense.weight", {h, h}},
             {"cls.predictions.transform.dense.bias", {h}},
             {"cls.predictions.transform.LayerNorm.weight", {h}},
             {"cls.predictions.transform.LayerNorm.bias", {h}}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = cat("bert.encoder.layer.", l, ".");
    for (const char* x : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"}) {
      m[p + x + ".weight"] = {h, h};
      m[p + x + ".bias"] = {h};
    }
    m[p + "intermediate.dense.weight"] = {inter, h};
    m[p + "intermediate.dense.bias"] = {inter};
    m[p + "output.dense.weight"] = {h, inter};
    m[p + "output.dense.bias"] = {h};
    for (const char* ln : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      m[p + ln + ".weight"] = {h};
      m[p + ln + ".bias"] = {h};
    }
  }
  return m;
}

TEST_F(FixtureTest, LlamaTensorsAndConfig) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.dtype = DType::BF16;
  write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  auto ck = Checkpoint::open(dir_);
  EXPECT_EQ(shapes_of(*ck), expected_llama(2, 32, 48, 64, 4, 2, /*tied=*/false));
  for (const auto& name : ck->tensor_names()) EXPECT_EQ(ck->tensor(name).dtype, DType::BF16) << name;
  const json& c = ck->config();
  EXPECT_EQ(c["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(c["model_type"], "llama");
  EXPECT_EQ(c["hidden_size"], 32);
  EXPECT_EQ(c["intermediate_size"], 48);
  EXPECT_EQ(c["num_hidden_layers"], 2);
  EXPECT_EQ(c["num_attention_heads"], 4);
  EXPECT_EQ(c["num_key_value_heads"], 2);
  EXPECT_EQ(c["vocab_size"], 64);
  EXPECT_EQ(c["max_position_embeddings"], 16);
  EXPECT_EQ(c["torch_dtype"], "bfloat16");
  EXPECT_EQ(c["tie_word_embeddings"], false);
  EXPECT_TRUE(c["rms_norm_eps"].is_number_float());

  // Values: projections ~ N(0, 0.02), norm weights near 1.
  auto q = values_of(*ck, "model.layers.0.self_attn.q_proj.weight");
  double sum2 = 0;
  for (float v : q) sum2 += double(v) * v;
  EXPECT_NEAR(std::sqrt(sum2 / q.size()), 0.02, 0.003);
  for (float v : values_of(*ck, "model.norm.weight")) EXPECT_NEAR(v, 1.0f, 0.07f);
}

TEST_F(FixtureTest, TiedLlamaHasNoLmHead) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.tied = true;
  write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  auto ck = Checkpoint::open(dir_);
  EXPECT_FALSE(ck->has("lm_head.weight"));
  EXPECT_EQ(shapes_of(*ck), expected_llama(2, 32, 48, 64, 4, 2, /*tied=*/true));
  EXPECT_EQ(ck->config()["tie_word_embeddings"], true);
}

TEST_F(FixtureTest, Gpt2TensorsAndConfig) {
  FixtureSpec spec = small_spec(Family::Gpt2);
  write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  auto ck = Checkpoint::open(dir_);
  EXPECT_EQ(shapes_of(*ck), expected_gpt2(2, 32, 48, 64, 16));
  const json& c = ck->config();
  EXPECT_EQ(c["architectures"], json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(c["model_type"], "gpt2");
  EXPECT_EQ(c["n_layer"], 2);
  EXPECT_EQ(c["n_embd"], 32);
  EXPECT_EQ(c["n_head"], 4);
  EXPECT_EQ(c["n_positions"], 16);
  EXPECT_EQ(c["n_inner"], 48);
  EXPECT_EQ(c["vocab_size"], 64);
  EXPECT_EQ(c["torch_dtype"], "float32");

  spec.tied = false;
  write_fixture_model(spec, fixture_variant(spec, 0), dir_ / "untied");
  auto untied = Checkpoint::open(dir_ / "untied");
  ASSERT_TRUE(untied->has("lm_head.weight"));
  EXPECT_EQ(untied->tensor("lm_head.weight").shape, (Shape{64, 32}));
}

TEST_F(FixtureTest, BertTensorsAndConfig) {
  FixtureSpec spec = small_spec(Family::Bert);
  spec.dtype = DType::F16;
  write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  auto ck = Checkpoint::open(dir_);
  EXPECT_EQ(shapes_of(*ck), expected_bert(2, 32, 48, 64, 16));
  const json& c = ck->config();
  EXPECT_EQ(c["model_type"], "bert");
  EXPECT_EQ(c["architectures"][0], "BertForMaskedLM");
  EXPECT_EQ(c["num_hidden_layers"], 2);
  EXPECT_EQ(c["hidden_size"], 32);
  EXPECT_EQ(c["intermediate_size"], 48);
  EXPECT_EQ(c["max_position_embeddings"], 16);
  EXPECT_EQ(c["type_vocab_size"], 2);
  EXPECT_EQ(c["torch_dtype"], "float16");

  TensorView ids = ck->tensor("bert.embeddings.position_ids");
  ASSERT_EQ(ids.dtype, DType::I64);
  for (int64_t i = 0; i < 16; ++i) {
    int64_t v;
    std::memcpy(&v, ids.data + i * 8, 8);
    EXPECT_EQ(v, i);
  }
  EXPECT_EQ(ck->tensor("bert.encoder.layer.1.output.dense.weight").dtype, DType::F16);
}

TEST_F(FixtureTest, TokenizerFilesAreValidBpe) {
  for (Family family : {Family::Llama, Family::Gpt2, Family::Bert}) {
    FixtureSpec spec = small_spec(family);
    spec.dims.vocab = 300;
    const fs::path d = dir_ / std::string(family_name(family));
    write_fixture_model(spec, fixture_variant(spec, 0), d);
    const json tok = read_json_file(d / "tokenizer.json");
    const json& model = tok["model"];
    ASSERT_EQ(model["type"], "BPE") << family_name(family);
    const json& vocab = model["vocab"];
    ASSERT_EQ(vocab.size(), 300u);
    std::set<int64_t> ids;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) ids.insert(it.value().get<int64_t>());
    EXPECT_EQ(ids.size(), 300u);
    EXPECT_EQ(*ids.begin(), 0);
    EXPECT_EQ(*ids.rbegin(), 299);
    EXPECT_EQ(vocab["<unk>"], 0);
    EXPECT_EQ(vocab["<s>"], 1);
    EXPECT_EQ(vocab["</s>"], 2);
    ASSERT_FALSE(model["merges"].empty());
    for (const auto& m : model["merges"]) {
      const std::string merge = m.get<std::string>();
      const size_t space = merge.find(' ');
      ASSERT_NE(space, std::string::npos) << merge;
      const std::string a = merge.substr(0, space), b = merge.substr(space + 1);
      EXPECT_TRUE(vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) << merge;
    }
    std::map<std::string, int64_t> added;
    for (const auto& t : tok["added_tokens"]) added[t["content"]] = t["id"];
    EXPECT_EQ(added, (std::map<std::string, int64_t>{{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}}));
    const std::string pre = tok["pre_tokenizer"]["type"];
    EXPECT_TRUE(pre == "ByteLevel" || pre == "Metaspace") << pre;
    const json config = read_json_file(d / "tokenizer_config.json");
    EXPECT_EQ(config["bos_token"], "<s>");
    EXPECT_EQ(config["eos_token"], "</s>");
    EXPECT_EQ(config["unk_token"], "<unk>");
    EXPECT_TRUE(read_json_file(d / "special_tokens_map.json").contains("bos_token"));
  }
}

TEST_F(FixtureTest, ShardedOutputHasConsistentIndex) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.shard_bytes = 6000;  // embed_tokens and lm_head (64 x 32 x 4 = 8192 bytes) exceed it
  const auto written = write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  ASSERT_GT(written.weight_files.size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors"));
  const json index = read_json_file(dir_ / "model.safetensors.index.json");
  const json& map = index["weight_map"];

  auto ck = Checkpoint::open(dir_);
  const ShapeMap expected = expected_llama(2, 32, 48, 64, 4, 2, false);
  EXPECT_EQ(shapes_of(*ck), expected);
  EXPECT_EQ(map.size(), expected.size());
  uint64_t total = 0;
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(map.contains(name)) << name;
    total += static_cast<uint64_t>(numel(shape)) * 4;
  }
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_EQ(ck->tensor_bytes(), total);

  std::map<std::string, std::pair<uint64_t, int>> per_file;  // bytes, tensors
  for (auto it = map.begin(); it != map.end(); ++it) {
    auto& [bytes, count] = per_file[it.value().get<std::string>()];
    bytes += ck->tensor(it.key()).nbytes;
    ++count;
  }
  const size_t n = per_file.size();
  EXPECT_EQ(n, written.weight_files.size());
  size_t k = 0;
  for (const auto& [file, usage] : per_file) {
    char want[64];
    std::snprintf(want, sizeof want, "model-%05zu-of-%05zu.safetensors", ++k, n);
    EXPECT_EQ(file, want);
    EXPECT_TRUE(fs::exists(dir_ / file));
    EXPECT_TRUE(usage.first <= spec.shard_bytes || usage.second == 1)
        << file << ": " << usage.first << " bytes in " << usage.second << " tensors";
  }
  EXPECT_EQ(map["model.embed_tokens.weight"], map["model.embed_tokens.weight"]);
  EXPECT_EQ(per_file[map["model.embed_tokens.weight"].get<std::string>()].second, 1);

  // Rewriting unsharded into the same directory removes the shards and the index.
  spec.shard_bytes = 0;
  write_fixture_model(spec, fixture_variant(spec, 0), dir_);
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir_ / "model-00001-of-00002.safetensors"));
  EXPECT_EQ(Checkpoint::open(dir_)->shards().size(), 1u);
}

TEST(PlanShards, GreedyWithOversizedTensorsAlone) {
  auto t = [](int64_t n) { return FixtureTensor{"x", {n}, DType::F32, TensorInit::Normal}; };
  const std::vector<FixtureTensor> tensors{t(10), t(10), t(100), t(5), t(20), t(3)};
  using Plan = std::vector<std::vector<size_t>>;
  EXPECT_EQ(plan_shards(tensors, 0), (Plan{{0, 1, 2, 3, 4, 5}}));
  EXPECT_EQ(plan_shards(tensors, 100), (Plan{{0, 1}, {2}, {3, 4}, {5}}));
  EXPECT_EQ(plan_shards(tensors, 1000), (Plan{{0, 1, 2, 3, 4, 5}}));
}

TEST_F(FixtureTest, SameSeedIsBitIdenticalOtherSeedDiffers) {
  FixtureSpec spec = small_spec(Family::Gpt2);
  spec.dtype = DType::BF16;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Sparse};
  spec.shard_bytes = 8192;
  write_fixture_family(spec, dir_ / "a");
  write_fixture_family(spec, dir_ / "b");
  spec.seed = 8;
  write_fixture_family(spec, dir_ / "c");
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "a")) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), dir_ / "a");
    EXPECT_EQ(testing::read_file(entry.path()), testing::read_file(dir_ / "b" / rel)) << rel;
    if (rel.extension() == ".safetensors") {
      EXPECT_NE(testing::read_file(entry.path()), testing::read_file(dir_ / "c" / rel)) << rel;
    }
    ++files;
  }
  EXPECT_GT(files, 10u);
}

TEST_F(FixtureTest, OutputDoesNotDependOnThreadsOrChunks) {
  FixtureSpec spec = small_spec(Family::Gpt2);
  spec.dims = {1, 16, 16, 64, 1, 0, 140000};  // wpe: 2.24M elements, three 1M-element chunks
  spec.dtype = DType::BF16;
  spec.fine_tunes = {TaskKind::Sparse};
  spec.threads = 1;
  write_fixture_model(spec, fixture_variant(spec, 1), dir_ / "one");
  spec.threads = 3;
  write_fixture_model(spec, fixture_variant(spec, 1), dir_ / "three");
  EXPECT_EQ(testing::read_file(dir_ / "one" / "model.safetensors"), testing::read_file(dir_ / "three" / "model.safetensors"));

  const FixtureTensor t{"w", {1000}, DType::F32, TensorInit::Normal};
  std::vector<float> whole(1000), parts(1000);
  fixture_values(spec, fixture_variant(spec, 1), t, 0, whole);
  fixture_values(spec, fixture_variant(spec, 1), t, 0, std::span<float>(parts).first(333));
  fixture_values(spec, fixture_variant(spec, 1), t, 333, std::span<float>(parts).subspan(333));
  EXPECT_EQ(whole, parts);
}

// Task vectors read back from disk (F32, so every delta survives storage).
TEST_F(FixtureTest, TaskVectorStructure) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.fine_tunes = {TaskKind::Dense, TaskKind::SignConflict, TaskKind::Sparse, TaskKind::Zero,
                     TaskKind::SignConflict};
  EXPECT_EQ(conflict_reference(spec, 2), 1);
  EXPECT_EQ(conflict_reference(spec, 5), 3);  // ft4 is zero
  const auto written = write_fixture_family(spec, dir_);
  ASSERT_EQ(written.size(), 6u);
  std::vector<std::shared_ptr<const Checkpoint>> ck;
  for (const auto& w : written) ck.push_back(Checkpoint::open(w.dir));

  // Deltas of every float tensor, concatenated, per model.
  std::vector<std::vector<float>> delta(6);
  for (const auto& name : ck[0]->tensor_names()) {
    const auto base = values_of(*ck[0], name);
    for (int m = 1; m <= 5; ++m) {
      const auto ft = values_of(*ck[m], name);
      ASSERT_EQ(ft.size(), base.size());
      for (size_t i = 0; i < base.size(); ++i) delta[m].push_back(ft[i] - base[i]);
      // The on-disk delta matches task_delta() up to f32 rounding.
      std::vector<float> expect(base.size());
      task_delta(spec, m, name, 0, expect);
      for (size_t i = 0; i < base.size(); i += 97)
        ASSERT_NEAR(ft[i] - base[i], expect[i], 1e-6) << name << " ft" << m << " [" << i << "]";
    }
  }
  const double n = static_cast<double>(delta[1].size());
  ASSERT_GT(n, 10000);
  auto nonzero = [](const std::vector<float>& d) {
    return static_cast<double>(std::count_if(d.begin(), d.end(), [](float v) { return v != 0.0f; }));
  };
  // Dense: non-zero nearly everywhere, standard deviation delta_std.
  EXPECT_GT(nonzero(delta[1]) / n, 0.99);
  double sum2 = 0;
  for (float v : delta[1]) sum2 += double(v) * v;
  EXPECT_NEAR(std::sqrt(sum2 / n), spec.task.delta_std, 0.1 * spec.task.delta_std);
  // Sparse: non-zero on `density` of the elements.
  EXPECT_NEAR(nonzero(delta[3]) / n, spec.task.density, 0.015);
  // Zero: the weights file is byte-identical to the base's.
  EXPECT_EQ(nonzero(delta[4]), 0.0);
  EXPECT_EQ(testing::read_file(written[4].dir / "model.safetensors"), testing::read_file(written[0].dir / "model.safetensors"));
  // Sign conflict: opposite sign to the reference on `conflict_fraction` of the elements where
  // both are non-zero; dense itself.
  auto conflict_rate = [&](int ft, int ref, double* both_out) {
    double both = 0, opposite = 0;
    for (size_t i = 0; i < delta[ft].size(); ++i) {
      if (delta[ft][i] == 0.0f || delta[ref][i] == 0.0f) continue;
      ++both;
      opposite += (delta[ft][i] > 0) != (delta[ref][i] > 0);
    }
    *both_out = both;
    return opposite / both;
  };
  double both = 0;
  EXPECT_NEAR(conflict_rate(2, 1, &both), spec.task.conflict_fraction, 0.02);
  EXPECT_GT(both / n, 0.98);
  EXPECT_NEAR(conflict_rate(5, 3, &both), spec.task.conflict_fraction, 0.05);
  EXPECT_NEAR(both / n, spec.task.density, 0.015);
  EXPECT_GT(nonzero(delta[5]) / n, 0.99);
}

TEST_F(FixtureTest, ExtraVocabRowsInOneFineTune) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  spec.extra_vocab = 5;
  spec.extra_vocab_fine_tune = 2;
  const auto written = write_fixture_family(spec, dir_);
  auto base = Checkpoint::open(written[0].dir);
  auto ft1 = Checkpoint::open(written[1].dir);
  auto ft2 = Checkpoint::open(written[2].dir);
  EXPECT_EQ(ft1->tensor("model.embed_tokens.weight").shape, (Shape{64, 32}));
  EXPECT_EQ(ft2->tensor("model.embed_tokens.weight").shape, (Shape{69, 32}));
  EXPECT_EQ(ft2->tensor("lm_head.weight").shape, (Shape{69, 32}));
  EXPECT_EQ(ft1->config()["vocab_size"], 64);
  EXPECT_EQ(ft2->config()["vocab_size"], 69);

  // The first 64 rows are base + the task vector; the new rows are fresh values.
  const auto b = values_of(*base, "model.embed_tokens.weight");
  const auto e = values_of(*ft2, "model.embed_tokens.weight");
  std::vector<float> delta(e.size());
  task_delta(spec, 2, "model.embed_tokens.weight", 0, delta);
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(e[i], b[i] + delta[i]) << i;
  for (size_t i = b.size(); i < e.size(); ++i) {
    EXPECT_TRUE(std::isfinite(e[i]));
    EXPECT_LT(std::abs(e[i]), 0.1f);
  }

  const json tok = read_json_file(written[2].dir / "tokenizer.json");
  std::map<int64_t, std::string> added;
  for (const auto& t : tok["added_tokens"]) added[t["id"]] = t["content"];
  ASSERT_EQ(added.size(), 8u);
  for (int64_t id = 64; id < 69; ++id) EXPECT_TRUE(added.count(id)) << id;
  EXPECT_EQ(tok["model"]["vocab"].size(), 64u);
  EXPECT_EQ(read_json_file(written[1].dir / "tokenizer.json")["added_tokens"].size(), 3u);
}

TEST(FixtureSpecTest, ValidationNamesTheProblem) {
  FixtureSpec spec = small_spec(Family::Llama);
  spec.fine_tunes = {TaskKind::SignConflict};
  EXPECT_THROW(validate(spec), Error);
  spec.fine_tunes = {TaskKind::Zero, TaskKind::SignConflict};
  EXPECT_THROW(validate(spec), Error);
  spec.fine_tunes = {TaskKind::Sparse, TaskKind::SignConflict};
  EXPECT_NO_THROW(validate(spec));

  spec = small_spec(Family::Llama);
  spec.dims.heads = 5;
  try {
    validate(spec);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("heads 5"), std::string::npos) << e.what();
  }
  spec = small_spec(Family::Llama);
  spec.dims.kv_heads = 3;
  EXPECT_THROW(validate(spec), Error);
  spec = small_spec(Family::Llama);
  spec.dtype = DType::I64;
  EXPECT_THROW(validate(spec), Error);
  spec = small_spec(Family::Llama);
  spec.extra_vocab = 4;  // but no fine-tunes
  EXPECT_THROW(validate(spec), Error);
  spec = small_spec(Family::Llama);
  spec.task.density = 1.5;
  EXPECT_THROW(validate(spec), Error);
}

TEST(FixtureSpecTest, DimsForParams) {
  const FixtureDims d = dims_for_params(Family::Llama, 1'100'000'000, 32000, false);
  EXPECT_EQ(d.hidden, 2048);
  EXPECT_EQ(d.intermediate, 5632);
  EXPECT_EQ(d.layers, 22);
  EXPECT_EQ(d.heads, 32);
  EXPECT_EQ(d.kv_heads, 4);
  EXPECT_EQ(d.vocab, 32000);
  for (Family f : {Family::Llama, Family::Gpt2, Family::Bert}) {
    for (uint64_t target : {2'000'000ull, 125'000'000ull, 3'000'000'000ull}) {
      FixtureSpec spec;
      spec.family = f;
      spec.dims = dims_for_params(f, target);
      EXPECT_NO_THROW(validate(spec));
      const double n = static_cast<double>(fixture_param_count(spec));
      EXPECT_NEAR(n / static_cast<double>(target), 1.0, 0.1) << family_name(f) << " " << target;
    }
  }
}

TEST(FixtureRandom, GaussianMomentsAndNeverZero) {
  const uint64_t key = stream_key(1, "test", "x");
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float g = gaussian(stream_bits(key, i));
    ASSERT_NE(g, 0.0f);
    ASSERT_LT(std::abs(g), 3.0f);
    sum += g;
    sum2 += double(g) * g;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.02);
  EXPECT_NE(stream_key(1, "ab", "c"), stream_key(1, "a", "bc"));
  EXPECT_NE(stream_key(1, "a", "b"), stream_key(2, "a", "b"));
  // Pinned values: the generator is part of the fixtures' format.
  EXPECT_EQ(mix64(0), 0u);
  EXPECT_EQ(stream_bits(0, 0), 0xe220a8397b1dcdafULL);  // SplitMix64(0)'s first output
}

// Pinned bits: fixtures are a format; a change here must be deliberate (and noted for users).
TEST(FixtureRandom, PinnedValues) {
  FixtureSpec spec;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Sparse, TaskKind::SignConflict};
  const FixtureTensor norm{"model.norm.weight", {8}, DType::F32, TensorInit::Norm};
  const FixtureTensor head{"lm_head.weight", {8}, DType::F32, TensorInit::Normal};
  auto bits = [&](int model, const FixtureTensor& t) {
    std::vector<float> v(4);
    fixture_values(spec, fixture_variant(spec, model), t, 1000, v);
    std::vector<uint32_t> out;
    for (float f : v) out.push_back(std::bit_cast<uint32_t>(f));
    return out;
  };
  using Bits = std::vector<uint32_t>;
  EXPECT_EQ(bits(0, norm), (Bits{0x3f84fc08, 0x3f7ffe2f, 0x3f7ee054, 0x3f82a94c}));
  EXPECT_EQ(bits(0, head), (Bits{0x3c754e70, 0x3c8bf9e6, 0xbc798447, 0x3c7ed099}));
  EXPECT_EQ(bits(1, head), (Bits{0x3c9f3d11, 0x3c9f6a48, 0xbc856d91, 0x3c91c208}));
  EXPECT_EQ(bits(2, norm), (Bits{0x3f84fc08, 0x3f7ffe2f, 0x3f7ee054, 0x3f827703}));
  EXPECT_EQ(bits(3, head), (Bits{0x3c4d1cac, 0x3c818495, 0xbc771448, 0x3c851fd3}));
}

TEST(SizeText, ParsesSuffixes) {
  EXPECT_EQ(parse_size_text("1000", SizeUnit::Count), 1000u);
  EXPECT_EQ(parse_size_text("1.1B", SizeUnit::Count), 1'100'000'000u);
  EXPECT_EQ(parse_size_text("125M", SizeUnit::Count), 125'000'000u);
  EXPECT_EQ(parse_size_text("3k", SizeUnit::Count), 3000u);
  EXPECT_EQ(parse_size_text("512", SizeUnit::Bytes), 512u);
  EXPECT_EQ(parse_size_text("5B", SizeUnit::Bytes), 5'000'000'000u);  // as mergekit's --out-shard-size
  EXPECT_EQ(parse_size_text("1MB", SizeUnit::Bytes), 1'000'000u);
  EXPECT_EQ(parse_size_text("1M", SizeUnit::Bytes), 1'000'000u);
  EXPECT_EQ(parse_size_text("2KiB", SizeUnit::Bytes), 2048u);
  EXPECT_EQ(parse_size_text("1.5GiB", SizeUnit::Bytes), 1610612736u);
  EXPECT_EQ(parse_size_text("5GB", SizeUnit::Bytes), 5'000'000'000u);
  EXPECT_THROW(parse_size_text("", SizeUnit::Bytes), Error);
  EXPECT_THROW(parse_size_text("abc", SizeUnit::Bytes), Error);
  EXPECT_THROW(parse_size_text("10x", SizeUnit::Bytes), Error);
  EXPECT_THROW(parse_size_text("1KiB", SizeUnit::Count), Error);
  EXPECT_EQ(format_size(2'200'000'000, SizeUnit::Bytes), "2.20 GB");
  EXPECT_EQ(format_size(1'100'000'000, SizeUnit::Count), "1.10B");
  EXPECT_EQ(format_size(512, SizeUnit::Bytes), "512 B");
}

TEST_F(FixtureTest, CommandLine) {
  const std::string out = (dir_ / "fam").string();
  const auto run = testing::run_alloy("fixture " + out +
                                      " --family gpt2 --layers 1 --hidden 32 --vocab 64 --heads 2 --kinds dense,sparse "
                                      "--fine-tunes 3 --dtype bfloat16 --shard-size 4KB --extra-vocab 2 --seed 3");
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* m : {"base", "ft1", "ft2", "ft3"}) {
    auto ck = Checkpoint::open(dir_ / "fam" / m);
    EXPECT_TRUE(fs::exists(dir_ / "fam" / m / "model.safetensors.index.json")) << m;
    EXPECT_EQ(ck->tensor("transformer.h.0.mlp.c_fc.weight").shape, (Shape{32, 128}));
    EXPECT_EQ(ck->tensor("transformer.h.0.mlp.c_fc.weight").dtype, DType::BF16);
  }
  EXPECT_EQ(Checkpoint::open(dir_ / "fam" / "ft1")->config()["vocab_size"], 66);
  EXPECT_FALSE(fs::exists(dir_ / "fam" / "ft4"));
  EXPECT_NE(run.output.find("ft3"), std::string::npos) << run.output;

  const auto bad = testing::run_alloy_apart({"fixture", out, "--kinds", "dense,bogus"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("bogus"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace alloy
