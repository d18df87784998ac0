// GGUF writer: headers compared byte for byte with files built field by field from the format
// description (tests/gguf_bytes.h, independent of the writer), files read back by alloy's reader,
// split sets laid out as gguf-split cuts them, and the errors for tensors llama.cpp cannot load.
#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "../../tests/gguf_bytes.h"
#include "io/gguf_model.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace alloy::testing;
namespace fs = std::filesystem;

// The whole file image of a layout's shard: its header, then each tensor's bytes at its place.
std::string file_image(const OutputLayout& layout, size_t shard, const std::vector<std::string>& data) {
  std::string out = layout.shards[shard].header;
  out.resize(layout.shards[shard].file_size, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    if (layout.placements[i].shard == shard) out.replace(layout.placements[i].file_offset, data[i].size(), data[i]);
  return out;
}

std::string bytes_of(size_t n, int seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 7 + static_cast<size_t>(seed) * 13) & 0xFF);
  return out;
}

TEST(GgufWriter, FileEqualsOneBuiltFieldByField) {
  std::vector<GgufKeyValue> md;
  gguf_set(md, "general.architecture", gguf_string_value("llama"));
  gguf_set(md, "llama.block_count", gguf_u32(5));
  gguf_set(md, "llama.rope.freq_base", gguf_f32(10000.0f));
  gguf_set(md, "tokenizer.ggml.add_bos_token", gguf_bool(true));
  gguf_set(md, "tokenizer.ggml.tokens", gguf_string_array({"<unk>", "a", ""}));
  gguf_set(md, "tokenizer.ggml.scores", gguf_f32_array({0.0f, -1.5f, 2.0f}));
  gguf_set(md, "tokenizer.ggml.token_type", gguf_i32_array({2, 1, -1}));
  gguf_set(md, "split.no", gguf_u16(7));
  gguf_set(md, "llama.block_count", gguf_u32(6));  // set again: the value changes, the position not
  std::vector<GgufOutputTensor> tensors = {{"token_embd.weight", {4, 3}, GgmlType::F32},
                                         {"blk.0.attn_q.weight", {64, 2}, GgmlType::Q8_0},
                                         {"output_norm.weight", {5}, GgmlType::F16}};
  const std::vector<std::string> data = {bytes_of(48, 1), bytes_of(2 * 2 * 34, 2), bytes_of(10, 3)};
  OutputLayout layout = layout_gguf(md, tensors, 0, "model.gguf");
  ASSERT_EQ(layout.shards.size(), 1u);
  EXPECT_EQ(layout.shards[0].file_name, "model.gguf");

  GgufBuilder b;
  b.kv_string("general.architecture", "llama");
  b.kv_u32("llama.block_count", 6);
  b.kv("llama.rope.freq_base", kF32, f32_bytes(10000.0f));
  b.kv("tokenizer.ggml.add_bos_token", kBool, u8_bytes(1));
  b.kv("tokenizer.ggml.tokens", kArray,
       array_payload(kString, 3, gguf_string("<unk>") + gguf_string("a") + gguf_string("")));
  b.kv("tokenizer.ggml.scores", kArray,
       array_payload(kF32, 3, f32_bytes(0.0f) + f32_bytes(-1.5f) + f32_bytes(2.0f)));
  b.kv("tokenizer.ggml.token_type", kArray,
       array_payload(kI32, 3, u32_bytes(2) + u32_bytes(1) + u32_bytes(0xFFFFFFFFu)));
  b.kv("split.no", kU16, u16_bytes(7));
  b.tensor("token_embd.weight", {4, 3}, 0, data[0]);
  b.tensor("blk.0.attn_q.weight", {64, 2}, 8, data[1]);
  b.tensor("output_norm.weight", {5}, 1, data[2]);
  EXPECT_EQ(file_image(layout, 0, data), b.build());
  EXPECT_EQ(layout.placements[1].ggml_type, GgmlType::Q8_0);
  EXPECT_EQ(layout.placements[1].nbytes, 136u);
}

TEST(GgufWriter, ReaderReadsBackMetadataAndTensors) {
  TempDir dir;
  std::vector<GgufKeyValue> md;
  gguf_set(md, "general.architecture", gguf_string_value("llama"));
  gguf_set(md, "general.alignment", gguf_u32(64));
  gguf_set(md, "tokenizer.ggml.scores", gguf_f32_array({0.25f, -3.0f}));
  std::vector<GgufOutputTensor> tensors = {{"a", {3}, GgmlType::F32}, {"b", {2, 2, 2}, GgmlType::BF16}};
  const std::vector<std::string> data = {bytes_of(12, 4), bytes_of(16, 5)};
  OutputLayout layout = layout_gguf(md, tensors, 0, "x.gguf");
  write_file(dir.path() / "x.gguf", file_image(layout, 0, data));
  auto file = GgufFile::open(dir.path() / "x.gguf");
  EXPECT_EQ(file->header().alignment, 64u);
  ASSERT_EQ(file->metadata().size(), 3u);
  EXPECT_EQ(file->metadata()[2].key, "tokenizer.ggml.scores");
  EXPECT_EQ(file->metadata()[2].value.element(1).as_double(), -3.0);
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[1].ne, (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(file->tensors()[1].type, GgmlType::BF16);
  EXPECT_EQ(file->tensors()[1].offset % 64, 0u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data(file->tensors()[i])), data[i].size()), data[i]);
}

// gguf-split's cut: a new part when the next tensor, padded to 32, would take the part past the
// limit; the whole metadata in part 1 only; split.no, split.count, split.tensors.count in each.
TEST(GgufWriter, SplitSetAsGgufSplitWritesIt) {
  TempDir dir;
  std::vector<GgufKeyValue> md;
  gguf_set(md, "general.architecture", gguf_string_value("llama"));
  gguf_set(md, "llama.block_count", gguf_u32(2));
  // Padded sizes 64, 32, 96, 32: with a 100-byte limit the parts hold {t0, t1}, {t2}, {t3}.
  std::vector<GgufOutputTensor> tensors = {{"t0", {16}, GgmlType::F32}, {"t1", {4}, GgmlType::F32},
                                         {"t2", {20}, GgmlType::F32}, {"t3", {8}, GgmlType::F32}};
  std::vector<std::string> data;
  for (int i = 0; i < 4; ++i) data.push_back(bytes_of(gguf_tensor_bytes(tensors[i]), i));
  OutputLayout layout = layout_gguf(md, tensors, 100, "merged.gguf");
  ASSERT_EQ(layout.shards.size(), 3u);
  EXPECT_EQ(layout.shards[0].file_name, "merged-00001-of-00003.gguf");
  EXPECT_EQ(layout.shards[2].file_name, "merged-00003-of-00003.gguf");
  EXPECT_EQ(layout.placements[1].shard, 0u);
  EXPECT_EQ(layout.placements[2].shard, 1u);
  EXPECT_EQ(layout.placements[3].shard, 2u);
  for (size_t s = 0; s < 3; ++s) write_file(dir.path() / layout.shards[s].file_name, file_image(layout, s, data));

  GgufModel model = GgufModel::open(dir.path() / "merged-00002-of-00003.gguf");
  ASSERT_EQ(model.tensors().size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(model.tensors()[i].data()), data[i].size()), data[i]);
  const auto& first = model.files()[0]->metadata();
  ASSERT_EQ(first.size(), 5u);
  EXPECT_EQ(first[0].key, "general.architecture");
  EXPECT_EQ(first[2].key, "split.no");
  EXPECT_EQ(first[2].value.type, GgufType::U16);
  EXPECT_EQ(first[3].key, "split.count");
  EXPECT_EQ(first[3].value.as_int(), 3);
  EXPECT_EQ(first[4].key, "split.tensors.count");
  EXPECT_EQ(first[4].value.type, GgufType::I32);
  EXPECT_EQ(first[4].value.as_int(), 4);
  const auto& third = model.files()[2]->metadata();
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(third[0].key, "split.no");
  EXPECT_EQ(third[0].value.as_int(), 2);
}

TEST(GgufWriter, TensorLargerThanTheLimitGetsAPartOfItsOwn) {
  std::vector<GgufOutputTensor> tensors = {{"a", {8}, GgmlType::F32}, {"b", {64}, GgmlType::F32}, {"c", {8}, GgmlType::F32}};
  OutputLayout layout = layout_gguf({}, tensors, 40, "m.gguf");
  ASSERT_EQ(layout.shards.size(), 3u);
  EXPECT_EQ(layout.placements[1].shard, 1u);
}

TEST(GgufWriter, RefusesWhatLlamaCppCannotLoad) {
  EXPECT_NE(error_message([] { layout_gguf({}, {{std::string(64, 'n'), {4}, GgmlType::F32}}, 0, "m.gguf"); }, "a 64-byte name")
                .find("64 bytes long"),
            std::string::npos);
  EXPECT_NE(error_message([] { layout_gguf({}, {{"blk.0.ffn_down.weight", {172, 4}, GgmlType::Q4_K}}, 0, "m.gguf"); }, "rows of 172 as Q4_K")
                .find("'blk.0.ffn_down.weight': rows of 172 elements are not whole Q4_K blocks of 256"),
            std::string::npos);
}

}  // namespace
}  // namespace alloy
