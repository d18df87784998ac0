// GGUF models as checkpoints, checked against what llama.cpp's own converter wrote:
// tests/data/stories260K/gguf/base.gguf is convert_hf_to_gguf.py's output for base/, so read under
// Hugging Face names it must be base/ to the last bit (names, q/k row order, config.json keys).
#include "io/gguf_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>

#include "arch/architecture.h"
#include "../../tests/gguf_bytes.h"
#include "tensor/view_rows.h"
#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::error_message;
using testing::GgufBuilder;
using testing::TempDir;

const fs::path kData = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";

std::vector<float> rows_of(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  read_view_rows(v, 0, v.rows(), out.data());
  return out;
}

TEST(GgufCheckpoint, LlamaGgufReadsAsItsHuggingFaceTwin) {
  const auto gguf = Checkpoint::open(kData / "gguf/base.gguf");
  const auto hf = Checkpoint::open(kData / "base");
  EXPECT_EQ(gguf->format(), "gguf");
  std::vector<std::string> want = hf->tensor_names(), got = gguf->tensor_names();
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got, want);
  for (const std::string& name : hf->tensor_names()) {
    SCOPED_TRACE(name);
    const TensorView g = gguf->tensor(name), h = hf->tensor(name);
    ASSERT_EQ(g.shape, h.shape);
    const std::vector<float> a = rows_of(g), b = rows_of(h);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
    EXPECT_EQ(g.rotary_heads, name.find("q_proj") != std::string::npos   ? 8
                              : name.find("k_proj") != std::string::npos ? 4
                                                                         : 0);
  }
  const nlohmann::json& want_config = hf->config();
  for (const char* key : {"architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "vocab_size", "rms_norm_eps",
                          "tie_word_embeddings", "bos_token_id", "eos_token_id"})
    EXPECT_EQ(gguf->config().at(key), want_config.at(key)) << key;
  // The file says what llama.cpp's llama2.c converter wrote: a 128-token context, no rope base.
  EXPECT_EQ(gguf->config().at("max_position_embeddings"), 128);
  EXPECT_FALSE(gguf->config().contains("rope_theta"));
  EXPECT_EQ(architecture_of(*gguf).num_layers, 5);
}

TEST(GgufCheckpoint, LlamaCppNamesWithMetadataAsConfig) {
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  const auto ck = Checkpoint::open(kData / "gguf/base.gguf", native);
  EXPECT_TRUE(ck->has("blk.4.attn_q.weight"));
  EXPECT_EQ(ck->tensor("blk.4.attn_q.weight").rotary_heads, 0);
  EXPECT_EQ(ck->config()["llama"]["block_count"], 5);
  EXPECT_EQ(ck->config()["general"]["architecture"], "llama");
  const Architecture arch = architecture_of(*ck);
  EXPECT_EQ(arch.layer_prefix, "blk.");
  EXPECT_EQ(arch.num_layers, 5);
  EXPECT_EQ(arch.num_layers_key, "llama.block_count");
  EXPECT_EQ(arch.name, "gguf:llama");
  ASSERT_NE(find_weight(arch, "token_embd.weight"), nullptr);
  EXPECT_TRUE(find_weight(arch, "token_embd.weight")->is_embed);
  EXPECT_EQ(arch.post_weights.front().name, "output_norm.weight");
}

// A GGUF of a family with no Hugging Face names here is refused with the reason and the way out,
// unless it keeps llama.cpp's names.
TEST(GgufCheckpoint, OtherFamiliesRefusedUnderHuggingFaceNames) {
  TempDir dir;
  GgufBuilder b;
  b.kv_string("general.architecture", "gpt2").kv_u32("gpt2.block_count", 1);
  b.tensor("blk.0.attn_qkv.weight", {4, 12}, 0, testing::f32_data(std::vector<float>(48, 0.5f)));
  const fs::path file = dir.path() / "g.gguf";
  testing::write_file(file, b.build());
  const std::string msg = error_message([&] { Checkpoint::open(file); }, "gpt2 GGUF opened");
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("'gpt2' is not of the Llama family"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--out-format gguf"), std::string::npos) << msg;
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  EXPECT_TRUE(Checkpoint::open(file, native)->has("blk.0.attn_qkv.weight"));
}

// Metadata becomes the config nested at its dots, as many levels as a JSON file may nest (64 parts)
// and no more: a longer key keeps its full name.
TEST(GgufCheckpoint, MetadataNestsNoDeeperThanAJsonFile) {
  TempDir dir;
  std::string deepest = "a", too_deep = "b";
  for (int i = 0; i < 63; ++i) deepest += ".a";
  for (int i = 0; i < 64; ++i) too_deep += ".b";
  GgufBuilder b;
  b.kv_string("general.architecture", "gpt2").kv_u32(deepest, 7).kv_u32(too_deep, 9);
  b.tensor("blk.0.attn_qkv.weight", {4, 12}, 0, testing::f32_data(std::vector<float>(48, 0.5f)));
  const fs::path file = dir.path() / "g.gguf";
  testing::write_file(file, b.build());
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  const nlohmann::json config = Checkpoint::open(file, native)->config();
  const nlohmann::json* leaf = &config;
  for (int level = 0; level < 64; ++level) leaf = &leaf->at("a");
  EXPECT_EQ(*leaf, 7);
  EXPECT_EQ(config.at(too_deep), 9);
  EXPECT_FALSE(config.contains("b"));
}

// A Q8_0 tensor is a view of its blocks, dequantised when read: d·q with d the block's f16 scale.
TEST(GgufCheckpoint, QuantisedTensorsDequantiseWhenRead) {
  TempDir dir;
  GgufBuilder b;
  b.kv_string("general.architecture", "llama");
  std::string blocks;
  std::vector<double> want;
  for (int row = 0; row < 2; ++row) {
    blocks += testing::u16_bytes(row == 0 ? 0x3800 : 0x2C00);  // f16 0.5 and 0.0625
    for (int i = 0; i < 32; ++i) {
      const int8_t q = static_cast<int8_t>(i - 16 + row);
      blocks += static_cast<char>(q);
      want.push_back((row == 0 ? 0.5 : 0.0625) * q);
    }
  }
  b.tensor("blk.0.ffn_up.weight", {32, 2}, 8, blocks);
  const fs::path file = dir.path() / "q.gguf";
  testing::write_file(file, b.build());
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  const auto ck = Checkpoint::open(file, native);  // the view lives as long as its checkpoint
  const TensorView v = ck->tensor("blk.0.ffn_up.weight");
  EXPECT_EQ(v.quantised, GgmlType::Q8_0);
  EXPECT_EQ(v.shape, (Shape{2, 32}));
  EXPECT_EQ(v.row_bytes(), 34u);
  std::vector<float> got(64);
  read_view_rows(v, 1, 2, got.data());  // the second row alone
  for (int i = 0; i < 32; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], want[32 + static_cast<size_t>(i)]) << i;
}

// Head counts and sizes are the file's, so arithmetic on them must not overflow: INT64_MAX - 1
// heads made "twice the heads" wrap to -4, which divides the 8 rows of attn_q, and reading the
// tensor then divided by zero. A 0-d embedding has no vocabulary size.
TEST(GgufCheckpoint, HostileHeadCountsAndEmbeddingShapesAreRefused) {
  auto llama = [](uint64_t heads, std::optional<uint64_t> key_length, std::vector<uint64_t> embed_ne) {
    GgufBuilder b;
    b.kv_string("general.architecture", "llama").kv_u32("llama.embedding_length", 8);
    b.kv_u32("llama.feed_forward_length", 16).kv_u32("llama.block_count", 1);
    b.kv("llama.attention.head_count", testing::kI64, testing::u64_bytes(heads));
    if (key_length) b.kv("llama.attention.key_length", testing::kI64, testing::u64_bytes(*key_length));
    uint64_t embed_numel = 1;
    for (uint64_t d : embed_ne) embed_numel *= d;
    b.tensor("token_embd.weight", embed_ne, 0, testing::f32_data(std::vector<float>(embed_numel, 0.5f)));
    b.tensor("blk.0.attn_q.weight", {8, 8}, 0, testing::f32_data(std::vector<float>(64, 0.25f)));
    return b.build();
  };
  TempDir dir;
  const fs::path file = dir.path() / "m.gguf";
  testing::write_file(file, llama(INT64_MAX - 1, std::nullopt, {8, 4}));
  std::string msg = error_message([&] { Checkpoint::open(file); }, "GGUF with INT64_MAX - 1 heads opened");
  EXPECT_NE(msg.find("'blk.0.attn_q.weight' of shape [8, 8] cannot hold 9223372036854775806 rotary heads"),
            std::string::npos) << msg;
  // key_length · heads = 2^64 + 8 wraps to the hidden size 8: head_dim must still be written.
  const uint64_t key_length = (uint64_t{1} << 62) + 2;
  testing::write_file(file, llama(4, key_length, {8, 4}));
  EXPECT_EQ(Checkpoint::open(file)->config().at("head_dim"), key_length);
  testing::write_file(file, llama(4, std::nullopt, {}));
  msg = error_message([&] { Checkpoint::open(file); }, "GGUF with a 0-d embedding opened");
  EXPECT_NE(msg.find("tensor 'token_embd.weight' has shape [], not [vocab, hidden]"), std::string::npos) << msg;
}

TEST(GgufCheckpoint, CorruptFileNamed) {
  TempDir dir;
  const std::string bytes = testing::read_file(kData / "gguf/base.gguf");
  const fs::path file = dir.path() / "cut.gguf";
  testing::write_file(file, bytes.substr(0, bytes.size() / 2));
  const std::string msg = error_message([&] { Checkpoint::open(file); }, "truncated GGUF opened");
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
}

}  // namespace
}  // namespace alloy
