// GgufFile: one GGUF file (v2 or v3), memory-mapped, its header validated before anything is used:
// every count, string length, dimension, type, offset and size is checked against the bytes that
// are really there (ggml's reader does the same), so a corrupt or hostile file gets an error that
// names the field and value, and no allocation is larger than what the file itself holds.
// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the key/value pairs,
// the tensor infos, zero padding to the alignment, the tensor data.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/gguf_value.h"
#include "io/mapped_file.h"
#include "tensor/ggml_quants.h"
#include "tensor/tensor_view.h"

namespace alloy {

inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr size_t kGgufMaxTensorName = 63;    // GGML_MAX_NAME less its NUL
inline constexpr int kGgufMaxArrayDepth = 8;        // arrays inside arrays inside ...
inline constexpr uint64_t kGgufMaxNestedArrays = 1 << 20;  // array elements that are arrays, per file

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ggml dimension order: ne[0] varies fastest (the row length)
  Shape shape;               // PyTorch order: ne reversed (a Linear weight [out, in] has ne [in, out])
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;       // as stored: relative to the start of the data section
  uint64_t file_offset = 0;  // from the start of the file
  uint64_t nbytes = 0;
  uint64_t numel = 0;

  uint64_t row_length() const { return ne.empty() ? 1 : ne[0]; }
  uint64_t row_count() const { return row_length() == 0 ? 0 : numel / row_length(); }
  uint64_t row_bytes() const;  // bytes of one row: whole blocks of the type
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufHeader {
  uint32_t version = 3;
  uint64_t alignment = kGgufDefaultAlignment;
  std::vector<GgufKeyValue> metadata;   // file order
  std::vector<GgufTensorInfo> tensors;  // file order
  uint64_t data_start = 0;              // file offset of the data section

  const GgufValue* find(std::string_view key) const;
};

// Validates a whole file image (file_size bytes at `file`) and returns its header. Throws Error
// naming the field and the bad value, without the file name (GgufFile::open adds it).
GgufHeader parse_gguf_header(const std::byte* file, uint64_t file_size);

class GgufFile {
 public:
  static std::shared_ptr<GgufFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  const GgufHeader& header() const { return header_; }
  const std::vector<GgufKeyValue>& metadata() const { return header_.metadata; }
  const std::vector<GgufTensorInfo>& tensors() const { return header_.tensors; }
  const GgufValue* find_value(std::string_view key) const { return header_.find(key); }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapping (validated to lie within the file).
  const std::byte* data(const GgufTensorInfo& info) const { return map_.data() + info.file_offset; }
  const MappedFile& mapping() const { return map_; }

 private:
  MappedFile map_;
  GgufHeader header_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace alloy
