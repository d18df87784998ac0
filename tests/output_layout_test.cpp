// The output layout alone: which shard each tensor goes to, the order inside a shard, and every
// byte offset, checked against sizes worked out by hand and against the safetensors header format
// (an 8-byte little-endian length, then JSON with each tensor's data_offsets).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "io/output_layout.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using nlohmann::json;

// a: 12 bytes, b: 10, c: 16, d: 2, e: 16 (56 in all).
const std::vector<OutputTensor> kTensors = {{"a", DType::F32, {3}},
                                            {"b", DType::BF16, {5}},
                                            {"c", DType::F32, {2, 2}},
                                            {"d", DType::F16, {1}},
                                            {"e", DType::F32, {4}}};

uint64_t header_length(const ShardLayout& s) {
  uint64_t n = 0;
  std::memcpy(&n, s.header.data(), 8);  // little-endian host
  return n;
}

json header_json(const ShardLayout& s) { return json::parse(s.header.substr(8, header_length(s))); }

std::vector<std::string> names(const ShardLayout& s) {
  std::vector<std::string> out;
  for (const auto& e : s.entries) out.push_back(e.name);
  return out;
}

// 30-byte shards: a+b (22), then c+d (18; e would make 34), then e.
TEST(OutputLayout, FillsShardsInOrderUpToTheLimit) {
  const OutputLayout l = layout_shards(kTensors, 30);
  ASSERT_EQ(l.shards.size(), 3u);
  EXPECT_EQ(l.shards[0].file_name, "model-00001-of-00003.safetensors");
  EXPECT_EQ(l.shards[2].file_name, "model-00003-of-00003.safetensors");
  EXPECT_EQ(names(l.shards[0]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names(l.shards[1]), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(names(l.shards[2]), (std::vector<std::string>{"e"}));
  const std::vector<size_t> shard_of = {0, 0, 1, 1, 2};
  const std::vector<uint64_t> offset_in_data = {0, 12, 0, 16, 0};
  const std::vector<uint64_t> nbytes = {12, 10, 16, 2, 16};
  for (size_t i = 0; i < kTensors.size(); ++i) {
    const TensorPlacement& p = l.placements[i];
    const ShardLayout& s = l.shards[p.shard];
    EXPECT_EQ(p.shard, shard_of[i]) << kTensors[i].name;
    EXPECT_EQ(p.nbytes, nbytes[i]) << kTensors[i].name;
    EXPECT_EQ(s.header.size(), 8 + header_length(s));
    EXPECT_EQ(p.file_offset, s.header.size() + offset_in_data[i]) << kTensors[i].name;
    // The header says the same offsets, relative to the end of the header.
    const json h = header_json(s);
    EXPECT_EQ(h[kTensors[i].name]["data_offsets"], json::array({offset_in_data[i], offset_in_data[i] + nbytes[i]}));
  }
  EXPECT_EQ(l.shards[0].file_size, l.shards[0].header.size() + 22);
  EXPECT_EQ(l.shards[1].file_size, l.shards[1].header.size() + 18);
  EXPECT_EQ(l.total_tensor_bytes, 56u);
}

// Without a limit: one model.safetensors; 4-byte elements first, then 2-byte ones (stable), so
// every tensor starts on a multiple of its element size.
TEST(OutputLayout, OneShardOrderedByElementSizeAndAligned) {
  const OutputLayout l = layout_shards(kTensors, 0);
  ASSERT_EQ(l.shards.size(), 1u);
  EXPECT_EQ(l.shards[0].file_name, "model.safetensors");
  EXPECT_EQ(names(l.shards[0]), (std::vector<std::string>{"a", "c", "e", "b", "d"}));
  const uint64_t data = l.shards[0].header.size();
  EXPECT_EQ(data % 8, 0u);
  const std::vector<uint64_t> offset_in_data = {0, 44, 12, 54, 28};  // a, b, c, d, e
  for (size_t i = 0; i < kTensors.size(); ++i) {
    EXPECT_EQ(l.placements[i].file_offset, data + offset_in_data[i]) << kTensors[i].name;
    EXPECT_EQ(l.placements[i].file_offset % dtype_size(kTensors[i].dtype), 0u) << kTensors[i].name;
  }
  EXPECT_EQ(l.shards[0].file_size, data + 56);
}

// A tensor larger than the limit gets a shard of its own: with 10-byte shards a (12), d (2) and b
// (10) are three shards (d + b = 12 > 10); with 12-byte shards d and b share the second.
TEST(OutputLayout, TensorLargerThanTheLimitStandsAlone) {
  const std::vector<OutputTensor> adb = {kTensors[0], kTensors[3], kTensors[1]};
  const OutputLayout l = layout_shards(adb, 10);
  ASSERT_EQ(l.shards.size(), 3u);
  EXPECT_EQ(names(l.shards[0]), (std::vector<std::string>{"a"}));
  EXPECT_EQ(names(l.shards[1]), (std::vector<std::string>{"d"}));
  EXPECT_EQ(names(l.shards[2]), (std::vector<std::string>{"b"}));
  const OutputLayout m = layout_shards(adb, 12);
  ASSERT_EQ(m.shards.size(), 2u);
  EXPECT_EQ(names(m.shards[1]), (std::vector<std::string>{"d", "b"}));
}

TEST(OutputLayout, IndexNamesEveryTensorsShardAndTheTotal) {
  const json index = layout_shards(kTensors, 30).index_json();
  EXPECT_EQ(index["metadata"]["total_size"], 56);
  EXPECT_EQ(index["weight_map"].size(), 5u);
  EXPECT_EQ(index["weight_map"]["b"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["d"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["e"], "model-00003-of-00003.safetensors");
}

}  // namespace
}  // namespace alloy
