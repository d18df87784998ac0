// TorchBinFile: one PyTorch .bin (or .pt) file as torch.save (>= 1.6) writes it: a zip archive
// whose data.pkl is a state dict and whose data/<key> entries hold the storages' raw bytes. The
// archive is memory-mapped and each tensor is a view into its storage's entry, nothing is copied.
// Non-contiguous tensors, big-endian archives and the legacy pre-zip format are refused.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/checkpoint.h"
#include "io/mapped_file.h"
#include "tensor/tensor_view.h"

namespace alloy {

struct TorchBinEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t offset = 0;  // of the tensor's first byte in the file
  uint64_t nbytes = 0;
};

class TorchBinFile {
 public:
  // Throws Error naming the file (and the archive entry, tensor or pickle byte) on any problem.
  static std::shared_ptr<TorchBinFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  // Sorted by offset in the file (storage order).
  const std::vector<TorchBinEntry>& entries() const { return entries_; }
  const TorchBinEntry* find(std::string_view name) const;
  TensorView view(const TorchBinEntry& entry) const;
  const MappedFile& mapping() const { return map_; }

 private:
  MappedFile map_;
  std::vector<TorchBinEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

// A PyTorch checkpoint as a Checkpoint: a directory with pytorch_model.bin, or with shards listed
// by pytorch_model.bin.index.json (its weight_map, as transformers writes it), plus config.json; or
// one .bin/.pt/.pth file. Throws Error naming the file, shard or tensor that cannot be read.
std::shared_ptr<const Checkpoint> open_torch_checkpoint(const std::filesystem::path& path);

// Whether `dir` holds a PyTorch checkpoint (pytorch_model.bin or its index).
bool has_torch_weights(const std::filesystem::path& dir);

}  // namespace alloy
