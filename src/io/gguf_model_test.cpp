// GgufModel: split sets written by the tests (complete, missing a part, mislabelled), and a real
// llama.cpp GGUF (stories260K, float32) read against its safetensors twin, element by element,
// with the q/k row permutation llama.cpp's HF converter applies undone by its formula.
#include "io/gguf_model.h"

#include <gtest/gtest.h>

#include <cstring>

#include "../../tests/gguf_bytes.h"
#include "io/gguf_dequantise.h"
#include "io/safetensors.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace alloy::testing;
namespace fs = std::filesystem;

std::string error_opening(const fs::path& path) {
  try {
    GgufModel::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "opened " << path;
  return "";
}

// Part `no` (0-based) of a set of `count`, holding one f32 tensor "blk.<no>.w" of ne [4, 2]
// filled with no·10 + index.
GgufBuilder split_part(int no, int count) {
  GgufBuilder b;
  if (no == 0) b.kv_string("general.architecture", "llama");
  b.kv("split.no", kU16, u16_bytes(static_cast<uint16_t>(no)));
  b.kv("split.count", kU16, u16_bytes(static_cast<uint16_t>(count)));
  if (no == 0) b.kv("split.tensors.count", kI32, u32_bytes(static_cast<uint32_t>(count)));
  std::vector<float> values(8);
  for (int i = 0; i < 8; ++i) values[i] = static_cast<float>(no * 10 + i);
  b.tensor("blk." + std::to_string(no) + ".w", {4, 2}, 0, f32_data(values));
  return b;
}

TEST(GgufModel, SplitNames) {
  auto s = parse_gguf_split_name("Llama-3-8B-Q4_K_M-00002-of-00005.gguf");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, "Llama-3-8B-Q4_K_M");
  EXPECT_EQ(s->number, 2);
  EXPECT_EQ(s->count, 5);
  EXPECT_FALSE(parse_gguf_split_name("model.gguf"));
  EXPECT_FALSE(parse_gguf_split_name("m-00006-of-00005.gguf"));
  EXPECT_EQ(gguf_split_file_name("m", 3, 12), "m-00003-of-00012.gguf");
}

TEST(GgufModel, OpensEveryPartOfASplitSetFromAnyPart) {
  TempDir dir;
  for (int no = 0; no < 3; ++no) write_file(dir / gguf_split_file_name("m", no + 1, 3), split_part(no, 3).build());
  GgufModel model = GgufModel::open(dir / "m-00002-of-00003.gguf");
  ASSERT_EQ(model.files().size(), 3u);
  ASSERT_EQ(model.tensors().size(), 3u);
  EXPECT_EQ(model.architecture(), "llama");
  for (int no = 0; no < 3; ++no) {
    const GgufTensor* t = model.find_tensor("blk." + std::to_string(no) + ".w");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->file, model.files()[no].get());
    EXPECT_EQ(model.tensors()[no].info, t->info);
    std::vector<float> v = dequantise_tensor(*t);
    EXPECT_EQ(v[5], static_cast<float>(no * 10 + 5));
  }
}

TEST(GgufModel, IncompleteOrMislabelledSplitSetsAreRefused) {
  TempDir dir;
  write_file(dir / "m-00001-of-00003.gguf", split_part(0, 3).build());
  write_file(dir / "m-00002-of-00003.gguf", split_part(1, 3).build());
  EXPECT_EQ(error_opening(dir / "m-00001-of-00003.gguf"),
            (dir / "m-00001-of-00003.gguf").string() + ": part 3 of the split set is missing (expected " +
                (dir / "m-00003-of-00003.gguf").string() + ")");

  write_file(dir / "m-00003-of-00003.gguf", split_part(1, 3).build());  // part 2's content again
  EXPECT_NE(error_opening(dir / "m-00001-of-00003.gguf").find("split.no is 1 but the file name says part 3"),
            std::string::npos);

  GgufBuilder wrong_total = split_part(0, 2);
  wrong_total.kvs.clear();
  wrong_total.kv_written = 0;
  wrong_total.kv("split.no", kU16, u16_bytes(0)).kv("split.count", kU16, u16_bytes(2));
  wrong_total.kv("split.tensors.count", kI32, u32_bytes(5));
  write_file(dir / "t-00001-of-00002.gguf", wrong_total.build());
  write_file(dir / "t-00002-of-00002.gguf", split_part(1, 2).build());
  EXPECT_NE(error_opening(dir / "t-00002-of-00002.gguf").find("split.tensors.count is 5 but the 2 part(s) hold 2 tensors"),
            std::string::npos);

  write_file(dir / "renamed.gguf", split_part(0, 2).build());
  EXPECT_NE(error_opening(dir / "renamed.gguf").find("part of a split set of 2 files (split.count), but its name"),
            std::string::npos);

  GgufBuilder unlabelled;
  unlabelled.tensor("w", {4}, 0, f32_data({1, 2, 3, 4}));
  write_file(dir / "u-00001-of-00002.gguf", unlabelled.build());
  write_file(dir / "u-00002-of-00002.gguf", unlabelled.build());
  EXPECT_NE(error_opening(dir / "u-00001-of-00002.gguf").find("without the metadata keys split.no and split.count"),
            std::string::npos);
}

// llama.cpp's HF converter reorders the rows of each attention head of q_proj and k_proj from
// [first half of the rotary pairs, second half] to interleaved pairs: GGUF row 2i + j of a head
// is HF row j·(head_dim / 2) + i.
int64_t hf_row_of_gguf_row(int64_t row, int64_t head_dim) {
  const int64_t head = row / head_dim, r = row % head_dim;
  return head * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

TEST(GgufModel, RealLlamaCppFileMatchesItsSafetensorsTwin) {
  const fs::path data = fs::path(ALLOY_SHARED_DIR) / "stories260K";
  GgufModel model = GgufModel::open(data / "gguf/base.gguf");
  auto twin = SafetensorsFile::open(data / "base/model.safetensors");
  EXPECT_EQ(model.architecture(), "llama");
  EXPECT_EQ(model.find_value("llama.block_count")->as_int(), 5);
  EXPECT_EQ(model.find_value("llama.attention.head_count")->as_int(), 8);
  EXPECT_EQ(model.find_value("tokenizer.ggml.tokens")->strings.size(), 512u);
  const int64_t head_dim = 64 / 8;

  // GGUF name -> HF name, for the tensors of the model.
  std::vector<std::pair<std::string, std::string>> names = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                            {"output_norm.weight", "model.norm.weight"},
                                                            {"output.weight", "lm_head.weight"}};
  const std::pair<const char*, const char*> per_layer[] = {
      {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"},   {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"attn_norm", "input_layernorm"}, {"ffn_gate", "mlp.gate_proj"},
      {"ffn_down", "mlp.down_proj"},   {"ffn_up", "mlp.up_proj"},       {"ffn_norm", "post_attention_layernorm"}};
  for (int layer = 0; layer < 5; ++layer)
    for (auto [gguf, hf] : per_layer)
      names.push_back({"blk." + std::to_string(layer) + "." + gguf + ".weight",
                       "model.layers." + std::to_string(layer) + "." + hf + ".weight"});
  ASSERT_EQ(model.tensors().size(), names.size());

  for (const auto& [gguf_name, hf_name] : names) {
    SCOPED_TRACE(gguf_name);
    const GgufTensor* t = model.find_tensor(gguf_name);
    const SafetensorsEntry* e = twin->find(hf_name);
    ASSERT_NE(t, nullptr);
    ASSERT_NE(e, nullptr);
    TensorView v = twin->view(*e);
    ASSERT_EQ(t->info->shape, v.shape);  // ne reversed is the PyTorch shape
    std::vector<float> expected(v.numel());
    to_f32(v.dtype, v.data, expected.data(), expected.size());
    std::vector<float> got = dequantise_tensor(*t);
    const bool permuted = gguf_name.find("attn_q") != std::string::npos || gguf_name.find("attn_k") != std::string::npos;
    const int64_t cols = v.row_length();
    int64_t mismatches = 0;
    for (int64_t row = 0; row < v.rows(); ++row) {
      const int64_t hf_row = permuted ? hf_row_of_gguf_row(row, head_dim) : row;
      for (int64_t c = 0; c < cols; ++c) mismatches += got[row * cols + c] != expected[hf_row * cols + c];
    }
    EXPECT_EQ(mismatches, 0);
  }
}

}  // namespace
}  // namespace alloy
