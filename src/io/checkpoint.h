// Checkpoint: one input model, whatever its format. Safetensors (here): a directory with
// model.safetensors or a sharded set resolved via model.safetensors.index.json, plus config.json;
// or a single .safetensors file. GGUF (io/gguf_checkpoint.h): a .gguf file or any part of a split
// set. Files are memory-mapped on open; tensors are views, nothing is read until used.
//
// How an input format plugs in: a reader function maps the format's files, then fills a
// Checkpoint through its assembly calls (Checkpoint::assemble, add_file, add_tensor, set_config):
// each file once, each tensor as a TensorView into its file (a view that is not plain row-major
// `dtype` elements says so: TensorView::quantised / rotary_heads), and the config.json or what
// stands in for it. Checkpoint::open dispatches on the path (add the format's test there).
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace alloy {

// One mapped file of a checkpoint, whatever its format: for page-cache hints and the check that
// inputs did not change during a merge.
struct InputFile {
  std::shared_ptr<const void> owner;  // keeps `mapping` alive
  const MappedFile* mapping = nullptr;
  uint64_t data_start = 0;  // where tensor bytes begin (the header before it is not dropped)
};

struct CheckpointOptions {
  // GGUF inputs keep llama.cpp's tensor names (blk.N.*) and metadata (merging GGUF models into
  // GGUF). Otherwise a GGUF of the Llama family is presented under Hugging Face names with its q/k
  // rows read back in HF order and a config.json made from its metadata, so that it merges with
  // safetensors models and into safetensors; other GGUF families are refused.
  bool gguf_llama_cpp_names = false;
};

class Checkpoint {
 public:
  // Throws Error naming the path for: missing directory, no weights, an index that points to a
  // missing shard or lists a tensor its shard lacks, any invalid safetensors or GGUF file.
  static std::shared_ptr<const Checkpoint> open(const std::filesystem::path& path,
                                                const CheckpointOptions& options = {});
  // Assembly, for the format readers (see the top of this file).
  static std::shared_ptr<Checkpoint> assemble(const std::filesystem::path& path, const std::filesystem::path& dir,
                                              std::string format, bool single_file);
  size_t add_file(InputFile file);  // returns its index
  void add_tensor(const std::string& name, const TensorView& view, size_t file);
  void set_config(nlohmann::json config);

  // "safetensors" or "gguf".
  const std::string& format() const { return format_; }

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
  // Every mapped file, any format.
  const std::vector<InputFile>& files() const { return files_; }
  // Safetensors checkpoints only (empty for others): the shard holding `name`, and all shards.
  const SafetensorsFile& shard_of(std::string_view name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& shards() const { return shards_; }
  uint64_t tensor_bytes() const;  // sum of all tensors' stored byte sizes

 private:
  struct Stored {
    TensorView view;
    size_t file;
  };
  std::filesystem::path path_, dir_;
  std::string format_ = "safetensors";
  bool single_file_ = false;
  bool has_config_ = false;
  nlohmann::json config_ = nlohmann::json::object();
  std::vector<InputFile> files_;
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;  // safetensors: files_ in the same order
  std::vector<std::string> names_;
  std::unordered_map<std::string, Stored> index_;
};

// Limits of read_json_file: the largest tokenizer.json of a released model is tens of MiB, and
// none nests more than a handful of levels.
inline constexpr uint64_t kMaxJsonFileBytes = 512ull << 20;
inline constexpr int kMaxJsonDepth = 64;

// A shard index (transformers' model.safetensors.index.json, pytorch_model.bin.index.json): its
// weight_map (tensor name -> shard file name) and the shard file names, sorted, each once. Throws
// Error naming the index when weight_map is missing or empty, or names a file that is not in the
// index's directory or does not exist.
struct ShardIndex {
  nlohmann::json weight_map;
  std::vector<std::string> shards;
};
ShardIndex read_shard_index(const std::filesystem::path& index);

// Reads a JSON file; throws Error naming the file on I/O or parse errors and past the limits.
nlohmann::json read_json_file(const std::filesystem::path& path);
// Writes JSON with 2-space indentation and a trailing newline.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

// Dotted-key access into config.json ("text_config.num_hidden_layers").
const nlohmann::json* json_get_dotted(const nlohmann::json& root, std::string_view dotted);
void json_set_dotted(nlohmann::json& root, std::string_view dotted, nlohmann::json value);

}  // namespace alloy
