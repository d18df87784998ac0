// End-to-end tests of `alloy merge --out-format gguf` on the real stories260K models, against
// what llama.cpp wrote: tests/data/stories260K/gguf/base.gguf (converted by llama.cpp from the
// llama2.c original; its safetensors twin base/ holds the same weights with q/k rows in the Hugging
// Face order), llama.cpp's names and q/k row order (tests/llama_cpp_names.h, written out from
// convert_hf_to_gguf.py and gguf-py's tensor map, not taken from alloy), and the metadata keys of convert_hf_to_gguf.py
// in the order its source writes them. Split sets, single files and the atomic write.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "io/checkpoint.h"
#include "io/gguf_dequantise.h"
#include "io/gguf_model.h"
#include "llama_cpp_names.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;
using testing::hf_row_of_gguf_row;
using testing::llama_cpp_name;

const fs::path kData = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";

std::vector<float> values_of(const GgufTensor& t) { return dequantise_tensor(t); }

std::vector<float> values_of(const Checkpoint& ck, const std::string& name) {
  TensorView v = ck.tensor(name);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

// Every tensor of the safetensors model `hf` is in `gguf` under its llama.cpp name, with its rows
// in llama.cpp's order, equal to the last bit.
void expect_same_model(const Checkpoint& hf, const GgufModel& gguf) {
  ASSERT_EQ(gguf.tensors().size(), hf.tensor_names().size());
  for (const std::string& name : hf.tensor_names()) {
    SCOPED_TRACE(name);
    const GgufTensor* t = gguf.find_tensor(llama_cpp_name(name));
    ASSERT_NE(t, nullptr);
    const TensorView v = hf.tensor(name);
    ASSERT_EQ(t->info->shape, v.shape);
    const std::vector<float> want = values_of(hf, name), got = values_of(*t);
    const bool permuted = name.find("q_proj") != std::string::npos || name.find("k_proj") != std::string::npos;
    const int64_t cols = v.row_length();
    int64_t mismatches = 0;
    for (int64_t row = 0; row < v.rows(); ++row)
      for (int64_t c = 0; c < cols; ++c)
        mismatches += std::memcmp(&got[row * cols + c], &want[(permuted ? hf_row_of_gguf_row(row, 8) : row) * cols + c], 4) != 0;
    EXPECT_EQ(mismatches, 0);
  }
}

std::string recipe_of(const std::vector<std::string>& models) {
  std::string r = "merge_method: linear\nmodels:\n";
  for (const auto& m : models) r += "  - model: " + (kData / m).string() + "\n    parameters: {weight: 1.0}\n";
  return r;
}

// The base model alone, converted by alloy, is llama.cpp's own conversion of it: every tensor's
// bytes, and the metadata values both converters derive from the model.
TEST(GgufOutput, BaseModelAloneIsWhatLlamaCppWrote) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"base"}));
  auto r = run_alloy("merge '" + (tmp / "r.yml").string() + "' '" + (tmp / "base.gguf").string() + "' --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  GgufModel ours = GgufModel::open(tmp / "base.gguf");
  GgufModel theirs = GgufModel::open(kData / "gguf/base.gguf");
  ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (const GgufTensor& t : theirs.tensors()) {
    SCOPED_TRACE(t.info->name);
    const GgufTensor* mine = ours.find_tensor(t.info->name);
    ASSERT_NE(mine, nullptr);
    EXPECT_EQ(mine->info->ne, t.info->ne);
    EXPECT_EQ(mine->info->type, GgmlType::F32);
    ASSERT_EQ(mine->info->nbytes, t.info->nbytes);
    EXPECT_EQ(std::memcmp(mine->data(), t.data(), t.info->nbytes), 0);
  }
  // Values both files take from the model (base.gguf's llama2.c converter writes a context length
  // of its own, 128, and keys of its own; see docs/gguf.md).
  for (const char* key : {"general.architecture", "llama.embedding_length", "llama.feed_forward_length",
                          "llama.attention.head_count", "llama.attention.head_count_kv", "llama.block_count",
                          "llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
                          "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
    SCOPED_TRACE(key);
    const GgufValue *a = ours.find_value(key), *b = theirs.find_value(key);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(a->type, b->type);
    EXPECT_EQ(gguf_value_text(*a), gguf_value_text(*b));
  }
  EXPECT_EQ(ours.find_value("tokenizer.ggml.tokens")->strings, theirs.find_value("tokenizer.ggml.tokens")->strings);
  EXPECT_EQ(ours.find_value("tokenizer.ggml.token_type")->raw, theirs.find_value("tokenizer.ggml.token_type")->raw);
  EXPECT_EQ(ours.find_value("tokenizer.ggml.scores")->raw, theirs.find_value("tokenizer.ggml.scores")->raw);
}

// convert_hf_to_gguf.py's keys for this config.json and tokenizer, in the order its source writes
// them: GGUFWriter's general.architecture; ModelBase.set_type; Metadata.set_gguf_meta_model (name,
// size label, base models); TextModel.set_gguf_parameters then LlamaModel's (vocab size, rope
// dimensions); the quantization version; _set_vocab_sentencepiece and SpecialVocab (ids from
// config.json, add_* flags from tokenizer_config.json).
TEST(GgufOutput, MetadataKeysInTheConvertersOrder) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"python", "cheaders", "man"}));
  fs::create_directory(tmp / "out");
  auto r = run_alloy("merge '" + (tmp / "r.yml").string() + "' '" + (tmp / "soup").string() +
                     "' --out-format gguf --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "soup" / "model.gguf"));
  EXPECT_TRUE(fs::exists(tmp / "soup" / "alloy_config.yml"));
  EXPECT_FALSE(fs::exists(tmp / "soup" / "config.json"));  // the GGUF holds it
  GgufModel m = GgufModel::open(tmp / "soup" / "model.gguf");
  std::vector<std::string> keys;
  for (const auto& kv : m.metadata()) keys.push_back(kv.key);
  const std::vector<std::string> want = {
      "general.architecture", "general.type", "general.name", "general.size_label", "general.base_model.count",
      "general.base_model.0.name", "general.base_model.1.name", "general.base_model.2.name", "llama.block_count",
      "llama.context_length", "llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
      "llama.attention.head_count_kv", "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
      "general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "general.quantization_version",
      "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
      "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"};
  EXPECT_EQ(keys, want);
  auto text = [&](const char* key) { return gguf_value_text(*m.find_value(key)); };
  EXPECT_EQ(text("general.name"), "\"soup\"");
  EXPECT_EQ(text("general.size_label"), "\"293K\"");  // 292,800 parameters, the converter's rounding
  EXPECT_EQ(text("general.base_model.1.name"), "\"cheaders\"");
  EXPECT_EQ(text("general.file_type"), "0");  // ALL_F32
  EXPECT_EQ(text("llama.context_length"), "512");
  EXPECT_EQ(text("llama.rope.freq_base"), "10000");
  EXPECT_EQ(text("llama.vocab_size"), "512");
  EXPECT_EQ(text("tokenizer.ggml.add_bos_token"), "true");
  EXPECT_EQ(text("tokenizer.ggml.add_eos_token"), "false");
  EXPECT_EQ(m.find_value("tokenizer.ggml.add_bos_token")->type, GgufType::BOOL);
  EXPECT_EQ(m.find_value("llama.rope.freq_base")->type, GgufType::F32);
}

// The soup written as GGUF holds the soup written as safetensors, mapped through llama.cpp's
// names and row order; split at --out-shard-size it is the same tensors in gguf-split's parts.
TEST(GgufOutput, MergeEqualsTheSafetensorsMergeAndSplits) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"python", "cheaders", "man"}));
  const std::string recipe = "'" + (tmp / "r.yml").string() + "' ";
  ASSERT_EQ(run_alloy("merge " + recipe + "'" + (tmp / "st").string() + "' --no-fsync -q -j 2").status, 0);
  auto r = run_alloy("merge " + recipe + "'" + (tmp / "soup.gguf").string() + "' --no-fsync -q -j 2");
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = Checkpoint::open(tmp / "st");
  expect_same_model(*st, GgufModel::open(tmp / "soup.gguf"));

  // 1,171,200 bytes of tensors, none over 131,072: a first part filled past 700K - 131,072 leaves
  // less than 700K for a second, so two parts.
  r = run_alloy("merge " + recipe + "'" + (tmp / "split").string() + "' --out-format gguf --out-shard-size 700K --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "split" / "model-00001-of-00002.gguf"));
  EXPECT_TRUE(fs::exists(tmp / "split" / "model-00002-of-00002.gguf"));
  GgufModel split = GgufModel::open(tmp / "split" / "model-00002-of-00002.gguf");
  EXPECT_EQ(split.files().size(), 2u);
  EXPECT_EQ(split.find_value("split.tensors.count")->as_int(), 48);
  expect_same_model(*st, split);
}

// alloy eval reads the GGUF (through the GGUF reader, under HF names, with the tokenizer.model
// copied beside it) and scores the perplexity it scores on the safetensors merge.
TEST(GgufOutput, EvalGivesTheSafetensorsPerplexity) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"python", "man"}));
  const std::string recipe = "'" + (tmp / "r.yml").string() + "' ";
  ASSERT_EQ(run_alloy("merge " + recipe + "'" + (tmp / "st").string() + "' --no-fsync -q").status, 0);
  fs::create_directory(tmp / "g");
  ASSERT_EQ(run_alloy("merge " + recipe + "'" + (tmp / "g/soup.gguf").string() + "' --no-fsync -q").status, 0);
  fs::copy_file(kData / "python/tokenizer.model", tmp / "g/tokenizer.model");
  write_file(tmp / "text.txt", read_file(kData / "eval/stories.txt").substr(0, 1200));
  auto r = testing::run_alloy_apart({"eval", (tmp / "st").string(), (tmp / "g/soup.gguf").string(), "--text",
                                     (tmp / "text.txt").string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto results = nlohmann::json::parse(r.out)["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_GT(results[0]["tokens"].get<int>(), 100);
  EXPECT_EQ(results[0]["ppl"].get<double>(), results[1]["ppl"].get<double>());
}

// The file does not depend on the thread count (with two, tensors finish in another order).
TEST(GgufOutput, SameBytesForAnyThreadCount) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"python", "man"}));
  const std::string recipe = "'" + (tmp / "r.yml").string() + "' ";
  fs::create_directory(tmp / "a");
  fs::create_directory(tmp / "b");  // the same file name: general.name is the file's stem
  ASSERT_EQ(run_alloy("merge " + recipe + "'" + (tmp / "a/m.gguf").string() + "' --no-fsync -q -j 1").status, 0);
  ASSERT_EQ(run_alloy("merge " + recipe + "'" + (tmp / "b/m.gguf").string() + "' --no-fsync -q -j 2").status, 0);
  const std::string a = read_file(tmp / "a/m.gguf");
  EXPECT_GT(a.size(), 1'000'000u);
  EXPECT_TRUE(a == read_file(tmp / "b/m.gguf"));
}

// GGUF inputs into GGUF: a frankenmerge of base.gguf's layers 0-3 then 2-4 has 4 + 3 = 7 blocks,
// output block 4 is input block 2 byte for byte, and the metadata is base.gguf's in its order with
// the keys the merge changes set: name, block_count, provenance, file type.
TEST(GgufOutput, GgufFrankenmergeKeepsTheDonorsMetadataAndFixesBlockCount) {
  TempDir tmp;
  const std::string base = (kData / "gguf/base.gguf").string();
  write_file(tmp / "r.yml", "merge_method: passthrough\nslices:\n  - sources:\n      - model: " + base +
                                "\n        layer_range: [0, 4]\n  - sources:\n      - model: " + base +
                                "\n        layer_range: [2, 5]\n");
  auto r = run_alloy("merge '" + (tmp / "r.yml").string() + "' '" + (tmp / "tall.gguf").string() + "' --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  GgufModel out = GgufModel::open(tmp / "tall.gguf");
  GgufModel in = GgufModel::open(kData / "gguf/base.gguf");
  EXPECT_EQ(out.tensors().size(), 3u + 7u * 9u);
  for (const char* part : {"attn_q", "attn_k", "ffn_down", "ffn_norm"}) {
    const GgufTensor* a = out.find_tensor(std::string("blk.4.") + part + ".weight");
    const GgufTensor* b = in.find_tensor(std::string("blk.2.") + part + ".weight");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->info->nbytes, b->info->nbytes);
    EXPECT_EQ(std::memcmp(a->data(), b->data(), b->info->nbytes), 0) << part;
  }
  EXPECT_EQ(out.find_value("llama.block_count")->as_int(), 7);
  EXPECT_EQ(gguf_value_text(*out.find_value("general.name")), "\"tall\"");
  EXPECT_EQ(out.find_value("general.base_model.count")->as_int(), 1);
  EXPECT_EQ(gguf_value_text(*out.find_value("general.base_model.0.name")), "\"base\"");
  EXPECT_EQ(out.find_value("general.file_type")->as_int(), 0);
  // The donor's keys first, in its order, with its values where the merge leaves them.
  for (size_t i = 0; i < in.metadata().size(); ++i) {
    const std::string& key = in.metadata()[i].key;
    ASSERT_EQ(out.metadata()[i].key, key);
    if (key != "general.name" && key != "llama.block_count") {
      EXPECT_EQ(gguf_value_text(out.metadata()[i].value, 1000), gguf_value_text(in.metadata()[i].value, 1000)) << key;
    }
  }
  // --no-copy-tokenizer leaves the tokenizer keys out.
  r = run_alloy("merge '" + (tmp / "r.yml").string() + "' '" + (tmp / "bare.gguf").string() +
                "' --no-copy-tokenizer --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  GgufModel bare = GgufModel::open(tmp / "bare.gguf");
  for (const auto& kv : bare.metadata()) EXPECT_FALSE(kv.key.starts_with("tokenizer.")) << kv.key;
  EXPECT_EQ(bare.metadata().size(), out.metadata().size() - 9);  // base.gguf's 9 tokenizer keys
}

TEST(GgufOutput, RefusalsAndTheAtomicWrite) {
  TempDir tmp;
  write_file(tmp / "r.yml", recipe_of({"base"}));
  const std::string recipe = "'" + (tmp / "r.yml").string() + "' ";
  // One file cannot be a split set.
  auto r = run_alloy("merge " + recipe + "'" + (tmp / "x.gguf").string() + "' --out-shard-size 100K --no-fsync -q");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("names one file, but --out-shard-size splits this model into"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "x.gguf"));
  // An existing file is replaced only with --force, and then whole.
  write_file(tmp / "old.gguf", "not a model");
  r = run_alloy("merge " + recipe + "'" + (tmp / "old.gguf").string() + "' --no-fsync -q");
  EXPECT_NE(r.output.find("already exists; pass --force"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(tmp / "old.gguf"), "not a model");
  r = run_alloy("merge " + recipe + "'" + (tmp / "old.gguf").string() + "' --force --no-fsync -q");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(GgufModel::open(tmp / "old.gguf").tensors().size(), 48u);
  // Nothing but the file is left beside it.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  EXPECT_EQ(entries, 2u);  // r.yml and old.gguf
  r = run_alloy("merge " + recipe + "'" + (tmp / "y.gguf").string() + "' --out-format safetensors -q");
  EXPECT_NE(r.output.find("ends in .gguf"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace alloy
