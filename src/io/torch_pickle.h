// A restricted unpickler for the data.pkl of a torch.save archive: it knows the opcodes a state
// dict uses (pickle protocols 2-5) and the few globals that rebuild tensors and ordered dicts, and
// refuses anything else, naming the opcode or global. It never imports or calls anything: tensors
// become records (storage key, dtype, offset, shape, stride) that the caller maps from the archive.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor_view.h"

namespace alloy {

struct TorchTensorRecord {
  std::string name;         // the state dict's key
  DType dtype = DType::F32;
  std::string storage_key;  // the archive entry "<prefix>/data/<storage_key>"
  uint64_t storage_numel = 0;
  uint64_t storage_offset = 0;  // in elements
  Shape shape;
  std::vector<int64_t> stride;  // in elements
};

// The tensors of the state dict pickled in `pickle`, in the pickle's order. The top object must
// be a dict of tensors, or a dict whose "state_dict" entry is one (as training scripts save).
// Throws Error with the problem and its byte position (without the file name).
std::vector<TorchTensorRecord> read_torch_state_dict(std::string_view pickle);

// True when `stride` is the row-major stride of `shape` (dimensions of size 1 may have any stride).
bool is_row_major(const Shape& shape, const std::vector<int64_t>& stride);

}  // namespace alloy
