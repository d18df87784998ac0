// safetensors: reading (validated like the reference implementation, memory-mapped, zero-copy)
// and header building/writing (header padded to 8 bytes, tensors naturally aligned).
// Layout: [u64 N little-endian][N bytes JSON header][data buffer].
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"
#include "tensor/tensor_view.h"

namespace alloy {

inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // offsets relative to the data buffer; end exclusive
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // sorted by begin offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + N
};

// Validates the header of a whole file image (file_size bytes at `file`). Throws Error with the
// problem (without the file name; SafetensorsFile::open adds it).
SafetensorsHeader parse_safetensors_header(const std::byte* file, uint64_t file_size);

class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  const std::vector<SafetensorsEntry>& entries() const { return header_.entries; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const SafetensorsEntry* find(std::string_view name) const;
  TensorView view(const SafetensorsEntry& entry) const;
  uint64_t data_start() const { return header_.data_start; }
  const MappedFile& mapping() const { return map_; }

 private:
  MappedFile map_;
  SafetensorsHeader header_;
  std::unordered_map<std::string, size_t> by_name_;
};

// Assigns data offsets to `entries` in the order given (tiling the buffer with no holes) and
// returns the complete header bytes: 8-byte length + JSON padded with spaces to a multiple of 8.
// Metadata always includes "format": "pt".
std::string build_safetensors_header(std::vector<SafetensorsEntry>& entries,
                                     const std::map<std::string, std::string>& metadata = {});

// Orders entries the way the reference writer does (descending element size, then name) so that
// every tensor is naturally aligned when the data buffer starts 8-aligned.
void sort_for_alignment(std::vector<SafetensorsEntry>& entries);

struct NamedTensor {
  std::string name;
  TensorView view;
};
// Writes a complete safetensors file (used by fixtures and tests; merges use OutputLayout).
void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace alloy
