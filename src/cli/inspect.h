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
  DType dtype = DType::F32;
  Shape shape;  // as stored (row-major, outermost first)
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
};

// Opens and validates the checkpoint; throws Error naming the path and the problem.
CheckpointSummary summarize_checkpoint(const std::filesystem::path& path);

// One JSON object with keys path, architecture, model_type, num_layers, tensor_count,
// parameter_count, bytes_by_dtype, total_bytes and, with_tensors, tensors [{name, dtype, shape}].
nlohmann::ordered_json summary_json(const CheckpointSummary& summary, bool with_tensors);

// summary_json as text: indented, one line per tensor; ends with '\n'.
std::string summary_json_text(const CheckpointSummary& summary, bool with_tensors);

// Aligned "label  value" lines, then (with_tensors) a name/dtype/shape table; ends with '\n'.
std::string summary_text(const CheckpointSummary& summary, bool with_tensors);

std::string with_thousands(uint64_t n);  // 1234567 -> "1,234,567"
std::string human_bytes(uint64_t n);     // 1171200 -> "1.12 MiB"; under 1 KiB: "512 B"
std::string human_count(uint64_t n);     // 292800 -> "292.8K", 6738415616 -> "6.7B"; under 1000: "512"

}  // namespace alloy
