// OutputLayout: where every output tensor's bytes go. Because planning fixes every output name,
// dtype and shape, the shard files, their headers and all byte offsets are decided before any
// arithmetic; the executor then writes each tensor straight into its final place.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "tensor/ggml_quants.h"

namespace alloy {

struct OutputTensor {
  std::string name;
  DType dtype;
  Shape shape;
};

struct ShardLayout {
  std::string file_name;                  // "model.safetensors" or "model-00001-of-00003.safetensors"
  std::string header;                     // complete header bytes (length + JSON)
  std::vector<SafetensorsEntry> entries;  // with data offsets, in file order
  uint64_t file_size = 0;
};

struct TensorPlacement {
  size_t shard = 0;
  uint64_t file_offset = 0;  // absolute offset of the tensor's first byte in its shard file
  uint64_t nbytes = 0;
  // GGUF outputs (gguf_writer.h): the ggml type the rows are encoded in, instead of the job's dtype.
  std::optional<GgmlType> ggml_type;
  // Rows stored in llama.cpp's rotary order (its converter permutes q/k projections): 0 = rows as
  // merged; else, within each group of this many rows (one attention head), stored row 2i+k is
  // merged row k*group/2 + i.
  int64_t rotary_group_rows = 0;
};

struct OutputLayout {
  std::vector<ShardLayout> shards;
  std::vector<TensorPlacement> placements;  // one per OutputTensor, same order
  uint64_t total_tensor_bytes = 0;

  // model.safetensors.index.json contents (only written when there is more than one shard).
  nlohmann::json index_json() const;
};

// Fills shards in the given order, starting a new shard when the next tensor would push a non-empty
// shard past max_shard_bytes (a tensor larger than the limit gets a shard of its own; 0 = one
// shard). Within a shard, tensors are ordered by descending element size (stable) so each is
// naturally aligned.
OutputLayout layout_shards(const std::vector<OutputTensor>& tensors, uint64_t max_shard_bytes);

}  // namespace alloy
