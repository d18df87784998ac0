// Test helper: writes GGUF file images byte by byte from the format description (little-endian
// fields, u64 string lengths), with every field open to corruption: counts, versions, offsets and
// lengths can be set to anything. Independent of alloy's reader, so the reader's tests check it
// against the format, not against itself.
#pragma once
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"  // write_file, TempDir

namespace alloy::testing {

// Little-endian encoders; each returns the bytes of one field.
inline std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}
inline std::string u8_bytes(uint8_t v) { return le(v, 1); }
inline std::string u16_bytes(uint16_t v) { return le(v, 2); }
inline std::string u32_bytes(uint32_t v) { return le(v, 4); }
inline std::string u64_bytes(uint64_t v) { return le(v, 8); }
inline std::string f32_bytes(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return u32_bytes(bits);
}
inline std::string f64_bytes(double f) {
  uint64_t bits;
  std::memcpy(&bits, &f, 8);
  return u64_bytes(bits);
}
inline std::string gguf_string(const std::string& s) { return u64_bytes(s.size()) + s; }

// GGUF value type ids (gguf.md).
enum : uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

// An array value's payload (without its kv type): element type, count, then the elements' bytes.
inline std::string array_payload(uint32_t element_type, uint64_t count, const std::string& elements) {
  return u32_bytes(element_type) + u64_bytes(count) + elements;
}

struct GgufTensorSpec {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order
  uint32_t type = 0;         // ggml type id
  std::string data;          // the tensor's bytes
  std::optional<uint64_t> offset;  // default: the next aligned offset
};

struct GgufBuilder {
  uint32_t version = 3;
  uint64_t alignment = 32;  // what the builder pads to; set general.alignment yourself to change the reader's
  std::optional<uint64_t> tensor_count, kv_count;  // overrides of the counts written
  std::string kvs;
  uint64_t kv_written = 0;
  std::vector<GgufTensorSpec> tensors;

  GgufBuilder& kv(const std::string& key, uint32_t type, const std::string& payload) {
    kvs += gguf_string(key) + u32_bytes(type) + payload;
    ++kv_written;
    return *this;
  }
  GgufBuilder& kv_string(const std::string& key, const std::string& value) { return kv(key, kString, gguf_string(value)); }
  GgufBuilder& kv_u32(const std::string& key, uint32_t value) { return kv(key, kU32, u32_bytes(value)); }
  GgufBuilder& tensor(std::string name, std::vector<uint64_t> ne, uint32_t type, std::string data,
                      std::optional<uint64_t> offset = std::nullopt) {
    tensors.push_back({std::move(name), std::move(ne), type, std::move(data), offset});
    return *this;
  }

  std::string build() const {
    std::string out = "GGUF" + u32_bytes(version) + u64_bytes(tensor_count.value_or(tensors.size())) +
                      u64_bytes(kv_count.value_or(kv_written)) + kvs;
    std::vector<uint64_t> offsets;
    uint64_t next = 0;
    for (const auto& t : tensors) {
      offsets.push_back(t.offset.value_or(next));
      next = (offsets.back() + t.data.size() + alignment - 1) / alignment * alignment;
      out += gguf_string(t.name) + u32_bytes(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) out += u64_bytes(d);
      out += u32_bytes(t.type) + u64_bytes(offsets.back());
    }
    if (tensors.empty()) return out;
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    const size_t data_start = out.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (offsets[i] > (1u << 28)) continue;  // an offset far past any test's data: nothing to place
      if (out.size() < data_start + offsets[i]) out.resize(data_start + offsets[i], '\0');
      out.replace(data_start + offsets[i], std::min(tensors[i].data.size(), out.size() - data_start - offsets[i]),
                  tensors[i].data);
    }
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    return out;
  }
};

inline std::string f32_data(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

}  // namespace alloy::testing
