// Tests of Checkpoint: single-file and sharded directories (shards written here), every way a
// directory can be unusable, the dotted config.json helpers, and the real stories260K models.
#include "io/checkpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../../tests/test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string open_error(const fs::path& path) {
  return testing::error_message([&] { Checkpoint::open(path); }, path.string() + " opened");
}

// A small float tensor whose values say which tensor it is (value = seed + index).
struct OwnedTensor {
  std::string name;
  Shape shape;
  std::vector<float> values;
  TensorView view() const {
    return {DType::F32, shape, reinterpret_cast<const std::byte*>(values.data()), values.size() * sizeof(float)};
  }
};

OwnedTensor make_tensor(const std::string& name, Shape shape, float seed) {
  std::vector<float> values(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = seed + static_cast<float>(i);
  return {name, std::move(shape), std::move(values)};
}

void write_tensors(const fs::path& path, const std::vector<OwnedTensor>& tensors) {
  std::vector<NamedTensor> named;
  for (const auto& t : tensors) named.push_back({t.name, t.view()});
  write_safetensors(path, named);
}

// The tensors of a tiny two-layer model, split over three shards.
std::vector<std::vector<OwnedTensor>> three_shards() {
  return {
      {make_tensor("model.embed_tokens.weight", {8, 4}, 100), make_tensor("model.layers.0.w", {4, 4}, 200)},
      {make_tensor("model.layers.1.w", {4, 4}, 300), make_tensor("model.layers.0.norm", {4}, 400)},
      {make_tensor("model.norm.weight", {4}, 500), make_tensor("lm_head.weight", {8, 4}, 600),
       make_tensor("model.layers.1.norm", {4}, 700)},
  };
}

std::string shard_name(size_t i, size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", i + 1, count);
  return buf;
}

// Writes the shards and a matching model.safetensors.index.json into `dir`; returns the index.
json write_sharded(const fs::path& dir, const std::vector<std::vector<OwnedTensor>>& shards) {
  json weight_map = json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    write_tensors(dir / shard_name(i, shards.size()), shards[i]);
    for (const auto& t : shards[i]) {
      weight_map[t.name] = shard_name(i, shards.size());
      total += t.values.size() * sizeof(float);
    }
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_json_file(dir / "model.safetensors.index.json", index);
  return index;
}

void expect_tensor_equals(const Checkpoint& ck, const OwnedTensor& t) {
  ASSERT_TRUE(ck.has(t.name)) << t.name;
  TensorView v = ck.tensor(t.name);
  EXPECT_EQ(v.dtype, DType::F32);
  EXPECT_EQ(v.shape, t.shape) << t.name;
  ASSERT_EQ(v.nbytes, t.values.size() * sizeof(float)) << t.name;
  std::vector<float> read(t.values.size());
  std::memcpy(read.data(), v.data, v.nbytes);
  EXPECT_EQ(read, t.values) << t.name;
}

// ---------------------------------------------------------------------------------------------
// Valid checkpoints.

TEST(Checkpoint, SingleFileDirectory) {
  TempDir dir;
  std::vector<OwnedTensor> tensors = {make_tensor("b", {2, 3}, 1), make_tensor("a", {5}, 10)};
  write_tensors(dir.path() / "model.safetensors", tensors);
  write_json_file(dir.path() / "config.json", {{"architectures", {"TinyForCausalLM"}}, {"num_hidden_layers", 2}});

  auto ck = Checkpoint::open(dir.path());
  EXPECT_FALSE(ck->is_single_file());
  EXPECT_EQ(ck->dir(), dir.path());
  EXPECT_TRUE(ck->has_config());
  EXPECT_EQ(ck->config()["num_hidden_layers"], 2);
  EXPECT_EQ(ck->shards().size(), 1u);
  EXPECT_EQ(ck->tensor_names().size(), 2u);
  for (const auto& t : tensors) expect_tensor_equals(*ck, t);
  EXPECT_EQ(ck->tensor_bytes(), (6 + 5) * sizeof(float));
  EXPECT_EQ(&ck->shard_of("a"), ck->shards()[0].get());
  EXPECT_FALSE(ck->has("c"));
}

TEST(Checkpoint, WithoutConfigHasEmptyObject) {
  TempDir dir;
  write_tensors(dir.path() / "model.safetensors", {make_tensor("w", {2}, 0)});
  auto ck = Checkpoint::open(dir.path());
  EXPECT_FALSE(ck->has_config());
  EXPECT_TRUE(ck->config().is_object());
  EXPECT_TRUE(ck->config().empty());
}

TEST(Checkpoint, SingleSafetensorsFile) {
  TempDir dir;
  fs::path file = dir.path() / "weights.safetensors";
  std::vector<OwnedTensor> tensors = {make_tensor("x", {3}, 7)};
  write_tensors(file, tensors);
  auto ck = Checkpoint::open(file);
  EXPECT_TRUE(ck->is_single_file());
  EXPECT_EQ(ck->path(), file);
  EXPECT_EQ(ck->dir(), dir.path());
  EXPECT_FALSE(ck->has_config());
  expect_tensor_equals(*ck, tensors[0]);
}

TEST(Checkpoint, ShardedDirectoryResolvesEveryTensorThroughTheIndex) {
  TempDir dir;
  auto shards = three_shards();
  write_sharded(dir.path(), shards);
  auto ck = Checkpoint::open(dir.path());
  ASSERT_EQ(ck->shards().size(), 3u);
  uint64_t bytes = 0;
  size_t count = 0;
  for (size_t s = 0; s < shards.size(); ++s)
    for (const auto& t : shards[s]) {
      expect_tensor_equals(*ck, t);
      EXPECT_EQ(ck->shard_of(t.name).path().filename(), shard_name(s, 3)) << t.name;
      bytes += t.values.size() * sizeof(float);
      ++count;
    }
  EXPECT_EQ(ck->tensor_names().size(), count);
  EXPECT_EQ(ck->tensor_bytes(), bytes);
}

TEST(Checkpoint, TensorNamesInStorageOrder) {
  TempDir dir;
  auto shards = three_shards();
  write_sharded(dir.path(), shards);
  auto ck = Checkpoint::open(dir.path());
  // Shard by shard, and within a shard by data offset.
  std::vector<std::string> expected;
  for (const auto& shard : ck->shards())
    for (const auto& e : shard->entries()) expected.push_back(e.name);
  EXPECT_EQ(ck->tensor_names(), expected);
  EXPECT_EQ(ck->tensor_names().front().substr(0, 6), "model.") << "first shard's tensors come first";
}

TEST(Checkpoint, IndexWinsOverUnlistedShardTensors) {
  TempDir dir;
  auto shards = three_shards();
  json index = write_sharded(dir.path(), shards);
  // A tensor stored in a shard but not listed in the index is not part of the model.
  index["weight_map"].erase("model.norm.weight");
  write_json_file(dir.path() / "model.safetensors.index.json", index);
  auto ck = Checkpoint::open(dir.path());
  EXPECT_FALSE(ck->has("model.norm.weight"));
  EXPECT_EQ(ck->tensor_names().size(), 6u);
}

TEST(Checkpoint, UnknownTensorErrorNamesTensorAndCheckpoint) {
  TempDir dir;
  write_tensors(dir.path() / "model.safetensors", {make_tensor("w", {2}, 0)});
  auto ck = Checkpoint::open(dir.path());
  try {
    ck->tensor("missing.weight");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "missing.weight")) << e.what();
    EXPECT_TRUE(contains(e.what(), dir.path().string())) << e.what();
  }
  EXPECT_THROW(ck->shard_of("missing.weight"), Error);
}

// ---------------------------------------------------------------------------------------------
// Unusable checkpoints: the error names the offending path and the problem.

TEST(CheckpointErrors, DirectoryMissing) {
  TempDir dir;
  fs::path missing = dir.path() / "no_such_model";
  std::string message = open_error(missing);
  EXPECT_TRUE(contains(message, missing.string())) << message;
  EXPECT_TRUE(contains(message, "no such file or directory")) << message;
}

TEST(CheckpointErrors, NoWeightsFound) {
  TempDir dir;
  write_json_file(dir.path() / "config.json", json::object());
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, dir.path().string())) << message;
  EXPECT_TRUE(contains(message, "no weights found")) << message;
}

TEST(CheckpointErrors, APyTorchBinIsReadAsOne) {
  TempDir dir;
  std::ofstream(dir.path() / "pytorch_model.bin") << "not really";
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, (dir.path() / "pytorch_model.bin").string() + ": too short to be a zip archive")) << message;
}

TEST(CheckpointErrors, IndexPointsToMissingShard) {
  TempDir dir;
  write_sharded(dir.path(), three_shards());
  fs::remove(dir.path() / shard_name(1, 3));
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "model.safetensors.index.json")) << message;
  EXPECT_TRUE(contains(message, shard_name(1, 3))) << message;
  EXPECT_TRUE(contains(message, "does not exist")) << message;
}

TEST(CheckpointErrors, TensorListedInIndexButAbsentFromShard) {
  TempDir dir;
  json index = write_sharded(dir.path(), three_shards());
  index["weight_map"]["model.layers.2.w"] = shard_name(2, 3);
  write_json_file(dir.path() / "model.safetensors.index.json", index);
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "'model.layers.2.w'")) << message;
  EXPECT_TRUE(contains(message, shard_name(2, 3))) << message;
  EXPECT_TRUE(contains(message, "does not contain it")) << message;
}

TEST(CheckpointErrors, TensorListedInTheWrongShard) {
  TempDir dir;
  json index = write_sharded(dir.path(), three_shards());
  index["weight_map"]["lm_head.weight"] = shard_name(0, 3);
  write_json_file(dir.path() / "model.safetensors.index.json", index);
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "'lm_head.weight'")) << message;
  EXPECT_TRUE(contains(message, "does not contain it")) << message;
}

TEST(CheckpointErrors, IndexWithoutWeightMap) {
  TempDir dir;
  write_tensors(dir.path() / shard_name(0, 1), {make_tensor("w", {2}, 0)});
  write_json_file(dir.path() / "model.safetensors.index.json", {{"metadata", {{"total_size", 8}}}});
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "model.safetensors.index.json")) << message;
  EXPECT_TRUE(contains(message, "'weight_map'")) << message;
}

TEST(CheckpointErrors, IndexWeightMapNotAnObject) {
  TempDir dir;
  write_json_file(dir.path() / "model.safetensors.index.json", {{"weight_map", json::array({"a"})}});
  EXPECT_TRUE(contains(open_error(dir.path()), "'weight_map'"));
}

TEST(CheckpointErrors, IndexWithEmptyWeightMap) {
  TempDir dir;
  write_json_file(dir.path() / "model.safetensors.index.json", {{"weight_map", json::object()}});
  EXPECT_TRUE(contains(open_error(dir.path()), "weight_map is empty"));
}

TEST(CheckpointErrors, IndexIsNotJson) {
  TempDir dir;
  std::ofstream(dir.path() / "model.safetensors.index.json") << "{\"weight_map\": {";
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "model.safetensors.index.json")) << message;
  EXPECT_TRUE(contains(message, "invalid JSON")) << message;
}

TEST(CheckpointErrors, IndexEntryOutsideTheDirectory) {
  TempDir dir;
  write_json_file(dir.path() / "model.safetensors.index.json",
                  {{"weight_map", {{"w", "../elsewhere/model.safetensors"}}}});
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "not a file in the directory")) << message;
}

TEST(CheckpointErrors, IndexEntryNotAString) {
  TempDir dir;
  write_json_file(dir.path() / "model.safetensors.index.json", {{"weight_map", {{"w", 3}}}});
  EXPECT_TRUE(contains(open_error(dir.path()), "'w' is not a file name"));
}

TEST(CheckpointErrors, CorruptShardIsNamed) {
  TempDir dir;
  write_sharded(dir.path(), three_shards());
  fs::path shard = dir.path() / shard_name(2, 3);
  fs::resize_file(shard, fs::file_size(shard) - 1);
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, shard.string())) << message;
}

TEST(CheckpointErrors, InvalidConfigIsNamed) {
  TempDir dir;
  write_tensors(dir.path() / "model.safetensors", {make_tensor("w", {2}, 0)});
  std::ofstream(dir.path() / "config.json") << "{ not json";
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, (dir.path() / "config.json").string())) << message;
}

TEST(CheckpointErrors, ConfigNotAnObject) {
  TempDir dir;
  write_tensors(dir.path() / "model.safetensors", {make_tensor("w", {2}, 0)});
  std::ofstream(dir.path() / "config.json") << "[1, 2]";
  EXPECT_TRUE(contains(open_error(dir.path()), "is not a JSON object"));
}

TEST(CheckpointErrors, SingleFileThatIsNotSafetensors) {
  TempDir dir;
  fs::path file = dir.path() / "notes.txt";
  std::ofstream(file) << "just some text, long enough to have a header length";
  std::string message = open_error(file);
  EXPECT_TRUE(contains(message, file.string())) << message;
}

// ---------------------------------------------------------------------------------------------
// config.json helpers.

TEST(JsonDotted, GetFollowsNestedObjects) {
  json root = {{"num_hidden_layers", 5}, {"text_config", {{"num_hidden_layers", 7}, {"rope", {{"theta", 1e4}}}}}};
  ASSERT_NE(json_get_dotted(root, "num_hidden_layers"), nullptr);
  EXPECT_EQ(*json_get_dotted(root, "num_hidden_layers"), 5);
  EXPECT_EQ(*json_get_dotted(root, "text_config.num_hidden_layers"), 7);
  EXPECT_EQ(*json_get_dotted(root, "text_config.rope.theta"), 1e4);
  EXPECT_EQ(json_get_dotted(root, "text_config.missing"), nullptr);
  EXPECT_EQ(json_get_dotted(root, "missing.num_hidden_layers"), nullptr);
  EXPECT_EQ(json_get_dotted(root, "num_hidden_layers.x"), nullptr) << "a number has no members";
  EXPECT_EQ(json_get_dotted(json::array({1}), "0"), nullptr);
}

TEST(JsonDotted, SetCreatesIntermediateObjects) {
  json root = {{"a", 1}};
  json_set_dotted(root, "b", "x");
  json_set_dotted(root, "text_config.vision.depth", 12);
  json_set_dotted(root, "text_config.num_hidden_layers", 3);
  json_set_dotted(root, "a", 2);
  EXPECT_EQ(root["a"], 2);
  EXPECT_EQ(root["b"], "x");
  EXPECT_EQ(root["text_config"]["vision"]["depth"], 12);
  EXPECT_EQ(root["text_config"]["num_hidden_layers"], 3);
  EXPECT_EQ(*json_get_dotted(root, "text_config.vision.depth"), 12);
}

TEST(JsonDotted, SetThroughANonObjectFailsNamingTheKey) {
  json root = {{"a", {{"b", 1}}}};
  try {
    json_set_dotted(root, "a.b.c", 2);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "'a.b.c'")) << e.what();
  }
  EXPECT_EQ(root["a"]["b"], 1) << "the value is left as it was";
}

TEST(JsonFile, WriteThenReadRoundTrips) {
  TempDir dir;
  json value = {{"x", {1, 2, 3}}, {"y", "z"}};
  write_json_file(dir.path() / "v.json", value);
  EXPECT_EQ(read_json_file(dir.path() / "v.json"), value);
  std::ifstream in(dir.path() / "v.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.back(), '\n');
}

TEST(JsonFile, MissingFileIsNamed) {
  TempDir dir;
  try {
    read_json_file(dir.path() / "absent.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "absent.json")) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// The real stories260K checkpoints (Llama, float32, untied lm_head).

const fs::path kStories = fs::path(ALLOY_SHARED_DIR) / "stories260K";

int config_int(const Checkpoint& ck, const char* key) {
  const json* v = json_get_dotted(ck.config(), key);
  EXPECT_NE(v, nullptr) << key;
  return v ? v->get<int>() : 0;
}

class Stories260K : public ::testing::TestWithParam<std::string> {};

TEST_P(Stories260K, OpensWithTheShapesItsConfigDescribes) {
  auto ck = Checkpoint::open(kStories / GetParam());
  ASSERT_TRUE(ck->has_config());
  const int hidden = config_int(*ck, "hidden_size");
  const int intermediate = config_int(*ck, "intermediate_size");
  const int layers = config_int(*ck, "num_hidden_layers");
  const int vocab = config_int(*ck, "vocab_size");
  const int heads = config_int(*ck, "num_attention_heads");
  const int kv_heads = config_int(*ck, "num_key_value_heads");
  EXPECT_EQ(hidden, 64);
  EXPECT_EQ(intermediate, 172);
  EXPECT_EQ(layers, 5);
  EXPECT_EQ(vocab, 512);
  const int64_t kv_dim = static_cast<int64_t>(hidden) / heads * kv_heads;

  // Embedding, final norm and untied lm_head, then nine weights per layer.
  std::vector<std::pair<std::string, Shape>> expected = {
      {"model.embed_tokens.weight", {vocab, hidden}},
      {"model.norm.weight", {hidden}},
      {"lm_head.weight", {vocab, hidden}},
  };
  for (int i = 0; i < layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    expected.push_back({p + "input_layernorm.weight", {hidden}});
    expected.push_back({p + "post_attention_layernorm.weight", {hidden}});
    expected.push_back({p + "self_attn.q_proj.weight", {hidden, hidden}});
    expected.push_back({p + "self_attn.k_proj.weight", {kv_dim, hidden}});
    expected.push_back({p + "self_attn.v_proj.weight", {kv_dim, hidden}});
    expected.push_back({p + "self_attn.o_proj.weight", {hidden, hidden}});
    expected.push_back({p + "mlp.gate_proj.weight", {intermediate, hidden}});
    expected.push_back({p + "mlp.up_proj.weight", {intermediate, hidden}});
    expected.push_back({p + "mlp.down_proj.weight", {hidden, intermediate}});
  }
  EXPECT_EQ(ck->tensor_names().size(), 48u);
  ASSERT_EQ(ck->tensor_names().size(), expected.size());
  uint64_t bytes = 0;
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(ck->has(name)) << name;
    TensorView v = ck->tensor(name);
    EXPECT_EQ(v.dtype, DType::F32) << name;
    EXPECT_EQ(v.shape, shape) << name;
    bytes += v.nbytes;
  }
  EXPECT_EQ(ck->tensor_bytes(), bytes);
  EXPECT_EQ(bytes, 292'800u * 4);
  EXPECT_EQ(ck->shards()[0]->metadata().at("format"), "pt");
}

INSTANTIATE_TEST_SUITE_P(Checkpoint, Stories260K, ::testing::Values("base", "python", "cheaders", "man"));

TEST(Stories260KFile, OpensAsASingleFile) {
  auto ck = Checkpoint::open(kStories / "base" / "model.safetensors");
  EXPECT_TRUE(ck->is_single_file());
  EXPECT_EQ(ck->tensor_names().size(), 48u);
}

}  // namespace
}  // namespace alloy
