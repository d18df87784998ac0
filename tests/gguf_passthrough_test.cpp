// A tensor written unchanged into GGUF output (passthrough, or one model at weight 1) keeps the
// quantised blocks its input file holds, byte for byte. The inputs are written here field by field
// (tests/gguf_bytes.h) with random codes and scales, blocks that alloy's quantisers would not give
// back from their values, so bytes equal to the input file's prove a copy, not a re-quantisation.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "gguf_bytes.h"
#include "io/gguf_model.h"
#include "tensor/convert.h"
#include "tensor/ggml_quants.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

const fs::path kData = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";

// `blocks` random blocks of `type` (Q8_0, Q4_0 or Q4_K): random code bytes, each f16 scale field a
// finite value in [0.001, 0.01].
std::string random_blocks(GgmlType type, uint64_t blocks, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  const auto f16 = [&] { return testing::u16_bytes(f32_to_f16(scale(rng))); };
  const auto codes = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>(byte(rng));
    return s;
  };
  std::string out;
  for (uint64_t b = 0; b < blocks; ++b) {
    if (type == GgmlType::Q8_0) out += f16() + codes(32);
    if (type == GgmlType::Q4_0) out += f16() + codes(16);
    if (type == GgmlType::Q4_K) out += f16() + f16() + codes(12 + 128);  // d, dmin, scales, qs
  }
  return out;
}

// A three-block llama model under llama.cpp's names: attention q and ffn_up in Q4_K, attention k
// and ffn_down in Q8_0, the embedding in Q8_0 (tied output), norms in F32; file type Q4_K_M.
void write_quantised_llama(const fs::path& file, unsigned seed) {
  std::mt19937 rng(seed);
  testing::GgufBuilder b;
  b.kv_string("general.architecture", "llama");
  b.kv_string("general.name", "tiny");
  b.kv_u32("general.file_type", 15);  // MOSTLY_Q4_K_M, a mix
  for (const auto& [key, value] : std::vector<std::pair<std::string, uint32_t>>{
           {"llama.block_count", 3}, {"llama.context_length", 64}, {"llama.embedding_length", 256},
           {"llama.feed_forward_length", 32}, {"llama.attention.head_count", 2}, {"llama.attention.head_count_kv", 1}})
    b.kv_u32(key, value);
  const auto q = [&](const std::string& name, std::vector<uint64_t> ne, GgmlType type) {
    const uint64_t blocks = ne[0] / traits(type).block_elements * ne[1];
    b.tensor(name, ne, static_cast<uint32_t>(type), random_blocks(type, blocks, rng));
  };
  const auto norm = [&](const std::string& name) { b.tensor(name, {256}, 0, testing::f32_data(std::vector<float>(256, 1.5f))); };
  q("token_embd.weight", {256, 8}, GgmlType::Q8_0);
  for (int layer = 0; layer < 3; ++layer) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    norm(p + "attn_norm.weight");
    q(p + "attn_q.weight", {256, 256}, GgmlType::Q4_K);
    q(p + "attn_k.weight", {256, 128}, GgmlType::Q8_0);
    q(p + "ffn_up.weight", {256, 32}, GgmlType::Q4_K);
    q(p + "ffn_down.weight", {32, 256}, GgmlType::Q8_0);
  }
  norm("output_norm.weight");
  write_file(file, b.build());
}

// Whether `out`'s tensor `name` has the type and bytes of `in`'s tensor `from`.
::testing::AssertionResult same_blocks(const GgufModel& out, const std::string& name, const GgufModel& in,
                                     const std::string& from) {
  const GgufTensor* a = out.find_tensor(name);
  const GgufTensor* b = in.find_tensor(from);
  if (!a || !b) return ::testing::AssertionFailure() << name << " or " << from << " missing";
  if (a->info->type != b->info->type)
    return ::testing::AssertionFailure() << name << ": " << ggml_type_name(a->info->type) << ", input "
                                       << ggml_type_name(b->info->type);
  if (a->info->nbytes != b->info->nbytes || std::memcmp(a->data(), b->data(), b->info->nbytes) != 0)
    return ::testing::AssertionFailure() << name << ": bytes differ from " << from;
  return ::testing::AssertionSuccess();
}

const char* const kParts[] = {"attn_norm", "attn_q", "attn_k", "ffn_up", "ffn_down"};

std::string frankenmerge_recipe(const std::string& model) {
  return "merge_method: passthrough\nslices:\n  - sources:\n      - model: " + model +
         "\n        layer_range: [0, 2]\n  - sources:\n      - model: " + model + "\n        layer_range: [1, 3]\n";
}

// Layers 0-1 then 1-2: four blocks, output block N+1 is input block N for N >= 1; every tensor keeps
// its stored type and blocks, and block_count is 4.
TEST(GgufPassthrough, FrankenmergeKeepsQuantisedBytesAndFixesBlockCount) {
  TempDir dir;
  write_quantised_llama(dir / "in.gguf", 1);
  write_file(dir / "r.yml", frankenmerge_recipe("in.gguf"));
  const auto r = run_alloy("merge r.yml tall.gguf --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const GgufModel in = GgufModel::open(dir / "in.gguf"), out = GgufModel::open(dir / "tall.gguf");
  EXPECT_EQ(out.find_value("llama.block_count")->as_int(), 4);
  EXPECT_EQ(out.find_value("general.file_type")->as_int(), 15);  // the donor's: every tensor is as stored
  EXPECT_EQ(out.tensors().size(), 2u + 4u * 5u);
  EXPECT_TRUE(same_blocks(out, "token_embd.weight", in, "token_embd.weight"));
  EXPECT_TRUE(same_blocks(out, "output_norm.weight", in, "output_norm.weight"));
  const int source_of[] = {0, 1, 1, 2};
  for (int layer = 0; layer < 4; ++layer)
    for (const char* part : kParts)
      EXPECT_TRUE(same_blocks(out, "blk." + std::to_string(layer) + "." + part + ".weight", in,
                              "blk." + std::to_string(source_of[layer]) + "." + part + ".weight"));
}

// With --out-type, a tensor whose stored type is the type the rules give it keeps its bytes; the
// others are re-quantised into their type.
TEST(GgufPassthrough, OutTypeKeepsTheTensorsAlreadyInIt) {
  TempDir dir;
  write_quantised_llama(dir / "in.gguf", 2);
  write_file(dir / "r.yml", frankenmerge_recipe("in.gguf"));
  const GgufModel in = GgufModel::open(dir / "in.gguf");
  auto r = run_alloy("merge r.yml q8.gguf --out-type q8_0 --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  GgufModel out = GgufModel::open(dir / "q8.gguf");
  EXPECT_TRUE(same_blocks(out, "token_embd.weight", in, "token_embd.weight"));  // the output projection: Q8_0
  EXPECT_TRUE(same_blocks(out, "blk.3.attn_k.weight", in, "blk.2.attn_k.weight"));
  EXPECT_TRUE(same_blocks(out, "blk.3.ffn_down.weight", in, "blk.2.ffn_down.weight"));
  EXPECT_EQ(out.find_tensor("blk.3.attn_q.weight")->info->type, GgmlType::Q8_0);
  EXPECT_EQ(out.find_value("general.file_type")->as_int(), 7);  // MOSTLY_Q8_0

  r = run_alloy("merge r.yml q4k.gguf --out-type q4_k --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  out = GgufModel::open(dir / "q4k.gguf");
  EXPECT_TRUE(same_blocks(out, "blk.3.attn_q.weight", in, "blk.2.attn_q.weight"));
  EXPECT_TRUE(same_blocks(out, "blk.0.ffn_up.weight", in, "blk.0.ffn_up.weight"));
  EXPECT_EQ(out.find_tensor("blk.3.attn_k.weight")->info->type, GgmlType::Q4_K);
  EXPECT_EQ(out.find_tensor("token_embd.weight")->info->type, GgmlType::Q6_K);  // tied output projection
}

// One model at weight 1 is written unchanged too; at weight 0.5 it is merged (f32, no --out-type).
TEST(GgufPassthrough, OneModelAtWeightOneKeepsItsBytes) {
  TempDir dir;
  write_quantised_llama(dir / "in.gguf", 3);
  const GgufModel in = GgufModel::open(dir / "in.gguf");
  write_file(dir / "one.yml", "merge_method: linear\nmodels:\n  - model: in.gguf\n    parameters: {weight: 1.0}\n");
  auto r = run_alloy("merge one.yml one.gguf --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  GgufModel out = GgufModel::open(dir / "one.gguf");
  ASSERT_EQ(out.tensors().size(), in.tensors().size());
  for (const GgufTensor& t : in.tensors()) EXPECT_TRUE(same_blocks(out, t.info->name, in, t.info->name));

  write_file(dir / "half.yml",
             "merge_method: linear\nparameters: {normalize: false}\nmodels:\n  - model: in.gguf\n    parameters: {weight: 0.5}\n");
  r = run_alloy("merge half.yml half.gguf --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  out = GgufModel::open(dir / "half.gguf");
  EXPECT_EQ(out.find_tensor("blk.0.attn_q.weight")->info->type, GgmlType::F32);
}

// Mixed with a safetensors model, a GGUF reads under Hugging Face names, its q/k rows un-permuted;
// written to GGUF they are permuted again by the same heads, which cancels, so the stored blocks
// are kept there too. stories260K's rows (64) take Q4_0, not Q4_K.
TEST(GgufPassthrough, MixedWithSafetensorsKeepsBytesWherePermutationsCancel) {
  TempDir dir;
  std::mt19937 rng(4);
  const GgufModel base = GgufModel::open(kData / "gguf/base.gguf");
  testing::GgufBuilder b;
  for (const GgufKeyValue& kv : base.metadata())
    if (kv.key.starts_with("llama.") && kv.value.as_int()) b.kv_u32(kv.key, static_cast<uint32_t>(*kv.value.as_int()));
  b.kv_string("general.architecture", "llama");
  for (const GgufTensor& t : base.tensors()) {
    const bool matrix = t.info->ne.size() == 2 && t.info->ne[0] % 32 == 0;
    b.tensor(t.info->name, t.info->ne, matrix ? 2 : 0,
             matrix ? random_blocks(GgmlType::Q4_0, t.info->ne[0] / 32 * t.info->ne[1], rng)
                    : std::string(reinterpret_cast<const char*>(t.data()), t.info->nbytes));
  }
  write_file(dir / "q.gguf", b.build());
  write_file(dir / "r.yml", "merge_method: passthrough\nslices:\n  - sources:\n      - model: q.gguf\n"
                            "        layer_range: [0, 3]\n  - sources:\n      - model: " + (kData / "base").string() +
                                "\n        layer_range: [3, 5]\n");
  const auto r = run_alloy("merge r.yml mixed.gguf --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const GgufModel in = GgufModel::open(dir / "q.gguf"), out = GgufModel::open(dir / "mixed.gguf");
  for (int layer = 0; layer < 3; ++layer)
    for (const char* part : {"attn_q", "attn_k", "attn_v", "ffn_up"}) {
      const std::string name = "blk." + std::to_string(layer) + "." + part + ".weight";
      EXPECT_TRUE(same_blocks(out, name, in, name));
    }
  EXPECT_EQ(out.find_tensor("blk.3.attn_q.weight")->info->type, GgmlType::F32);  // from the safetensors model
}

}  // namespace
}  // namespace alloy
