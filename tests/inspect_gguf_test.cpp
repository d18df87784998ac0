// `alloy inspect` on GGUF: the real stories260K file (its counts checked against the safetensors
// twin's), a quantised file written by the test (byte sizes worked out from the block sizes), a
// split set, and a corrupt file (one error line naming it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gguf_bytes.h"
#include "io/safetensors.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace alloy::testing;
using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kStories = fs::path(ALLOY_SHARED_DIR) / "stories260K";

json inspect_json(const fs::path& path) {
  CliResult r = run_alloy("inspect '" + path.string() + "' --json --tensors");
  EXPECT_EQ(r.status, 0) << r.output;
  try {
    return json::parse(r.output);
  } catch (const json::exception& e) {
    ADD_FAILURE() << e.what() << "\n" << r.output;
    return json::object();
  }
}

TEST(InspectGguf, RealFileAgreesWithItsSafetensorsTwin) {
  auto twin = SafetensorsFile::open(kStories / "base/model.safetensors");
  uint64_t parameters = 0;
  for (const auto& e : twin->entries()) parameters += static_cast<uint64_t>(numel(e.shape));

  json j = inspect_json(kStories / "gguf/base.gguf");
  EXPECT_EQ(j.at("format"), "GGUF v3");
  EXPECT_EQ(j.at("architecture"), "llama");
  EXPECT_EQ(j.at("num_layers"), 5);
  EXPECT_EQ(j.at("tensor_count"), twin->entries().size());
  EXPECT_EQ(j.at("parameter_count"), parameters);
  EXPECT_EQ(j.at("total_bytes"), parameters * 4);  // float32
  EXPECT_EQ(j.at("bytes_by_dtype"), (json{{"F32", parameters * 4}}));
  const json& metadata = j.at("metadata");
  EXPECT_EQ(metadata.at("llama.block_count"), (json{{"type", "u32"}, {"value", 5}}));
  EXPECT_EQ(metadata.at("general.architecture").at("value"), "llama");
  const json& tokens = metadata.at("tokenizer.ggml.tokens").at("value");
  EXPECT_EQ(tokens.at("element_type"), "string");
  EXPECT_EQ(tokens.at("count"), 512);
  EXPECT_EQ(tokens.at("head").at(0), "<unk>");
  EXPECT_EQ(tokens.at("head").size(), 16u);
  bool found = false;
  for (const json& t : j.at("tensors"))
    if (t.at("name") == "token_embd.weight") {
      found = true;
      EXPECT_EQ(t.at("dtype"), "F32");
      EXPECT_EQ(t.at("shape"), (json{512, 64}));  // PyTorch order: ne [64, 512] reversed
    }
  EXPECT_TRUE(found);

  CliResult text = run_alloy("inspect '" + (kStories / "gguf/base.gguf").string() + "'");
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("format        GGUF v3\n"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("llama.attention.head_count_kv           u32     4\n"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("tokenizer.ggml.tokens                   array   [string × 512: \"<unk>\", \"<s>\", \"</s>\""),
            std::string::npos)
      << text.output;
}

TEST(InspectGguf, QuantisedTypesAndSplitSets) {
  TempDir dir;
  auto part = [](int no) {
    GgufBuilder b;
    b.kv_string("general.architecture", "llama").kv_u32("llama.block_count", 2);
    b.kv("split.no", kU16, u16_bytes(static_cast<uint16_t>(no))).kv("split.count", kU16, u16_bytes(2));
    b.tensor("blk." + std::to_string(no) + ".ffn_up.weight", {256, 2}, 12, std::string(2 * 144, '\0'));  // Q4_K
    b.tensor("blk." + std::to_string(no) + ".attn_v.weight", {64, 3}, 8, std::string(3 * 2 * 34, '\0'));  // Q8_0
    b.tensor("blk." + std::to_string(no) + ".ffn_down.weight", {256}, 16, std::string(66, '\0'));  // IQ2_XXS
    return b.build();
  };
  write_file(dir / "q-00001-of-00002.gguf", part(0));
  write_file(dir / "q-00002-of-00002.gguf", part(1));
  json j = inspect_json(dir / "q-00002-of-00002.gguf");
  EXPECT_EQ(j.at("format"), "GGUF v3, split in 2 files");
  EXPECT_EQ(j.at("num_layers"), 2);
  EXPECT_EQ(j.at("tensor_count"), 6);
  EXPECT_EQ(j.at("parameter_count"), 2 * (512 + 192 + 256));
  EXPECT_EQ(j.at("bytes_by_dtype"), (json{{"IQ2_XXS", 2 * 66}, {"Q4_K", 2 * 288}, {"Q8_0", 2 * 204}}));
  EXPECT_EQ(j.at("total_bytes"), 2 * (288 + 204 + 66));
  EXPECT_EQ(j.at("tensors").at(1), (json{{"name", "blk.0.attn_v.weight"}, {"dtype", "Q8_0"}, {"shape", {3, 64}}}));
  EXPECT_EQ(j.at("tensors").at(5).at("name"), "blk.1.ffn_down.weight");
}

TEST(InspectGguf, CorruptFileIsOneErrorLine) {
  TempDir dir;
  GgufBuilder b;
  b.tensor("w", {8}, 0, f32_data(std::vector<float>(8, 1.0f)), 16);
  write_file(dir / "bad.gguf", b.build());
  CliResult r = run_alloy("inspect '" + (dir / "bad.gguf").string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "alloy: error: " + (dir / "bad.gguf").string() +
                          ": tensor 'w': data offset 16 is not a multiple of the alignment 32\n");
}

}  // namespace
}  // namespace alloy
