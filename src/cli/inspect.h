// inspect: validates one checkpoint (a model directory or a single .safetensors file) and sums it
// up: architecture, layer, tensor and parameter counts, bytes by dtype, and the tensor list. The
// `alloy inspect` command prints this as aligned text or as one JSON object.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace alloy {

struct TensorSummary {
  std::string name;
  std::string dtype;  // as stored: "BF16", or a GGUF tensor's ggml type ("Q4_K")
  Shape shape;        // row-major, outermost first (a GGUF tensor's ne reversed)
};

// A GGUF metadata entry as inspect shows it.
struct MetadataSummary {
  std::string key;
  std::string type;  // "u32", "string", "array"
  std::string text;  // the value, arrays shortened: gguf_value_text
  nlohmann::ordered_json json;  // the value; arrays past 16 elements as {count, element_type, head}
};

// One module of a multi-module model (text decoder, vision tower, projector), as its
// architecture description places the tensors.
struct ModuleSummary {
  std::string name;           // "vision_tower"
  std::string weight_prefix;  // "vision_tower."
  int num_layers = 0;
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0;
};

struct CheckpointSummary {
  std::string path;  // as given by the user
  std::string architecture;
  std::string model_type;  // may be empty
  int num_layers = 0;
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0;                    // sum of every tensor's element count
  std::map<std::string, uint64_t> bytes_by_dtype;  // "F32" -> bytes
  uint64_t total_bytes = 0;
  std::vector<TensorSummary> tensors;  // storage order
  std::vector<ModuleSummary> modules;  // empty unless a modular description matched
  // GGUF files only (empty for safetensors): "GGUF v3", and the metadata in file order.
  std::string format;
  std::vector<MetadataSummary> metadata;
};

// Opens and validates the checkpoint; throws Error naming the path and the problem. A path ending
// in .gguf is read as a GGUF model (a split part opens the whole set): summarize_gguf.
CheckpointSummary summarize_checkpoint(const std::filesystem::path& path);
CheckpointSummary summarize_gguf(const std::filesystem::path& path);  // inspect_gguf.cpp

// One JSON object with keys path, architecture, model_type, num_layers, tensor_count,
// parameter_count, bytes_by_dtype, total_bytes, (modular models) modules [{name, weight_prefix,
// num_layers, tensor_count, parameter_count}], (GGUF) format and metadata {key: {type, value}}
// and, with_tensors, tensors [{name, dtype, shape}].
nlohmann::ordered_json summary_json(const CheckpointSummary& summary, bool with_tensors);

// summary_json as text: indented, one line per tensor; ends with '\n'.
std::string summary_json_text(const CheckpointSummary& summary, bool with_tensors);

// Aligned "label  value" lines (a modular model's modules among them), (GGUF) a key/type/value
// metadata table, then (with_tensors) a name/dtype/shape table; ends with '\n'.
std::string summary_text(const CheckpointSummary& summary, bool with_tensors);

std::string with_thousands(uint64_t n);  // 1234567 -> "1,234,567"
std::string human_bytes(uint64_t n);     // 1171200 -> "1.12 MiB"; under 1 KiB: "512 B"
std::string human_count(uint64_t n);     // 292800 -> "292.8K", 6738415616 -> "6.7B"; under 1000: "512"

}  // namespace alloy
