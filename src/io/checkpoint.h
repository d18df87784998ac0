// Checkpoint: one input model. A directory with model.safetensors or a sharded set resolved via
// model.safetensors.index.json, plus config.json; or a single .safetensors file. Shards are
// memory-mapped on open; tensors are views, nothing is read until used.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/safetensors.h"

namespace alloy {

class Checkpoint {
 public:
  // Throws Error naming the path for: missing directory, no weights, an index that points to a
  // missing shard or lists a tensor its shard lacks, any invalid safetensors file.
  static std::shared_ptr<const Checkpoint> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // Directory holding config.json / tokenizer files (the path itself, or a single file's parent).
  const std::filesystem::path& dir() const { return dir_; }
  bool is_single_file() const { return single_file_; }
  // config.json contents, or an empty object when there is none.
  const nlohmann::json& config() const { return config_; }
  bool has_config() const { return has_config_; }

  // Tensor names in storage order (shard by shard, by offset).
  const std::vector<std::string>& tensor_names() const { return names_; }
  bool has(std::string_view name) const { return index_.count(std::string(name)) != 0; }
  TensorView tensor(std::string_view name) const;  // throws Error naming the tensor and checkpoint
  // The shard holding `name` and its entry; for read-ahead hints.
  const SafetensorsFile& shard_of(std::string_view name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& shards() const { return shards_; }
  uint64_t tensor_bytes() const;  // sum of all tensors' byte sizes

 private:
  struct Location {
    size_t shard;
    const SafetensorsEntry* entry;
  };
  std::filesystem::path path_, dir_;
  bool single_file_ = false;
  bool has_config_ = false;
  nlohmann::json config_ = nlohmann::json::object();
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, Location> index_;
};

// Limits of read_json_file: the largest tokenizer.json of a released model is tens of MiB, and
// none nests more than a handful of levels.
inline constexpr uint64_t kMaxJsonFileBytes = 512ull << 20;
inline constexpr int kMaxJsonDepth = 64;

// Reads a JSON file; throws Error naming the file on I/O or parse errors and past the limits.
nlohmann::json read_json_file(const std::filesystem::path& path);
// Writes JSON with 2-space indentation and a trailing newline.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

// Dotted-key access into config.json ("text_config.num_hidden_layers").
const nlohmann::json* json_get_dotted(const nlohmann::json& root, std::string_view dotted);
void json_set_dotted(nlohmann::json& root, std::string_view dotted, nlohmann::json value);

}  // namespace alloy
