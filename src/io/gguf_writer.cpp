#include "io/gguf_writer.h"

#include <algorithm>
#include <cstring>

#include "io/gguf_model.h"
#include "util/error.h"

namespace alloy {

namespace {

void put_le(std::string& out, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_string(std::string& out, const std::string& s) {
  put_le(out, s.size(), 8);
  out += s;
}

// The value's bytes without its type id (arrays: element type, count, elements).
void put_value(std::string& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::F32: {
      const float f = static_cast<float>(v.real);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_le(out, bits, 4);
      return;
    }
    case GgufType::F64: {
      uint64_t bits;
      std::memcpy(&bits, &v.real, 8);
      put_le(out, bits, 8);
      return;
    }
    case GgufType::STRING: put_string(out, v.text); return;
    case GgufType::ARRAY:
      put_le(out, static_cast<uint32_t>(v.element_type), 4);
      put_le(out, v.count, 8);
      if (v.element_type == GgufType::STRING) {
        for (const std::string& s : v.strings) put_string(out, s);
      } else if (v.element_type == GgufType::ARRAY) {
        for (const GgufValue& a : v.arrays) put_value(out, a);
      } else {
        out.append(reinterpret_cast<const char*>(v.raw.data()), v.raw.size());
      }
      return;
    default: put_le(out, static_cast<uint64_t>(v.integer), gguf_type_size(v.type)); return;
  }
}

uint64_t round_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

GgufValue integer_value(GgufType type, int64_t v) {
  GgufValue out;
  out.type = type;
  out.integer = v;
  out.unsigned_integer = static_cast<uint64_t>(v);
  return out;
}

template <class T>
GgufValue numeric_array(GgufType element_type, const std::vector<T>& values) {
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.element_type = element_type;
  out.count = values.size();
  out.raw.resize(values.size() * sizeof(T));
  // Little-endian hosts only (as the reader): the stored bytes are the values' bytes.
  if (!values.empty()) std::memcpy(out.raw.data(), values.data(), out.raw.size());
  return out;
}

}  // namespace

uint64_t gguf_tensor_bytes(const GgufOutputTensor& tensor) {
  const GgmlTypeTraits& t = traits(tensor.type);
  const uint64_t row = tensor.ne.empty() ? 1 : tensor.ne[0];
  if (row % t.block_elements != 0)
    fail("GGUF tensor '", tensor.name, "': rows of ", row, " elements are not whole ", t.name, " blocks of ",
         t.block_elements);
  uint64_t rows = 1;
  for (size_t i = 1; i < tensor.ne.size(); ++i) rows *= tensor.ne[i];
  return rows * (row / t.block_elements) * t.block_bytes;
}

GgufValue gguf_u32(uint32_t v) { return integer_value(GgufType::U32, v); }
GgufValue gguf_i32(int32_t v) { return integer_value(GgufType::I32, v); }
GgufValue gguf_u16(uint16_t v) { return integer_value(GgufType::U16, v); }
GgufValue gguf_bool(bool v) { return integer_value(GgufType::BOOL, v ? 1 : 0); }
GgufValue gguf_f32(float v) {
  GgufValue out;
  out.type = GgufType::F32;
  out.real = v;
  return out;
}
GgufValue gguf_string_value(std::string v) {
  GgufValue out;
  out.type = GgufType::STRING;
  out.text = std::move(v);
  return out;
}
GgufValue gguf_string_array(std::vector<std::string> v) {
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.element_type = GgufType::STRING;
  out.count = v.size();
  out.strings = std::move(v);
  return out;
}
GgufValue gguf_f32_array(const std::vector<float>& v) { return numeric_array(GgufType::F32, v); }
GgufValue gguf_i32_array(const std::vector<int32_t>& v) { return numeric_array(GgufType::I32, v); }

void gguf_set(std::vector<GgufKeyValue>& metadata, const std::string& key, GgufValue value) {
  for (auto& kv : metadata)
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  metadata.push_back({key, std::move(value)});
}

void gguf_erase(std::vector<GgufKeyValue>& metadata, const std::string& key) {
  std::erase_if(metadata, [&](const GgufKeyValue& kv) { return kv.key == key; });
}

std::string gguf_header_bytes(const std::vector<GgufKeyValue>& metadata, const std::vector<GgufOutputTensor>& tensors,
                              uint64_t alignment, std::vector<uint64_t>* offsets) {
  std::string out = "GGUF";
  put_le(out, 3, 4);
  put_le(out, tensors.size(), 8);
  put_le(out, metadata.size(), 8);
  for (const auto& kv : metadata) {
    put_string(out, kv.key);
    put_le(out, static_cast<uint32_t>(kv.value.type), 4);
    put_value(out, kv.value);
  }
  if (offsets) offsets->clear();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.size() > kGgufMaxTensorName)
      fail("GGUF tensor '", t.name, "': the name is ", t.name.size(), " bytes long; llama.cpp reads at most ",
           kGgufMaxTensorName);
    if (t.ne.size() > kGgufMaxDims) fail("GGUF tensor '", t.name, "': ", t.ne.size(), " dimensions (at most 4)");
    put_string(out, t.name);
    // A scalar is stored with one dimension of 1, as gguf-py writes it.
    const std::vector<uint64_t> ne = t.ne.empty() ? std::vector<uint64_t>{1} : t.ne;
    put_le(out, ne.size(), 4);
    for (uint64_t n : ne) put_le(out, n, 8);
    put_le(out, static_cast<uint32_t>(t.type), 4);
    put_le(out, offset, 8);
    if (offsets) offsets->push_back(offset);
    offset = round_up(offset + gguf_tensor_bytes(t), alignment);
  }
  out.resize(round_up(out.size(), alignment), '\0');
  return out;
}

OutputLayout layout_gguf(const std::vector<GgufKeyValue>& metadata, const std::vector<GgufOutputTensor>& tensors,
                         uint64_t max_split_bytes, const std::string& file_name) {
  uint64_t alignment = kGgufDefaultAlignment;
  for (const auto& kv : metadata)
    if (kv.key == "general.alignment") {
      const auto n = kv.value.as_int();
      if (!n || *n <= 0 || (*n & (*n - 1)) != 0) fail("general.alignment must be a power of two");
      alignment = static_cast<uint64_t>(*n);
    }
  // Group tensors into parts, in order.
  std::vector<std::vector<size_t>> parts(1);
  uint64_t part_bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t bytes = round_up(gguf_tensor_bytes(tensors[i]), alignment);
    if (max_split_bytes > 0 && !parts.back().empty() && part_bytes + bytes > max_split_bytes) {
      parts.emplace_back();
      part_bytes = 0;
    }
    parts.back().push_back(i);
    part_bytes += bytes;
  }
  const size_t n = parts.size();
  std::string stem = file_name;
  if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);

  OutputLayout layout;
  layout.placements.resize(tensors.size());
  for (size_t s = 0; s < n; ++s) {
    std::vector<GgufKeyValue> part_metadata;
    if (s == 0) part_metadata = metadata;
    ShardLayout shard;
    shard.file_name = file_name;
    if (n > 1) {
      gguf_set(part_metadata, "split.no", gguf_u16(static_cast<uint16_t>(s)));
      gguf_set(part_metadata, "split.count", gguf_u16(static_cast<uint16_t>(n)));
      gguf_set(part_metadata, "split.tensors.count", gguf_i32(static_cast<int32_t>(tensors.size())));
      shard.file_name = gguf_split_file_name(stem, static_cast<int>(s + 1), static_cast<int>(n));
    }
    std::vector<GgufOutputTensor> part_tensors;
    for (size_t i : parts[s]) part_tensors.push_back(tensors[i]);
    std::vector<uint64_t> offsets;
    shard.header = gguf_header_bytes(part_metadata, part_tensors, alignment, &offsets);
    shard.file_size = shard.header.size();
    for (size_t k = 0; k < parts[s].size(); ++k) {
      const uint64_t bytes = gguf_tensor_bytes(part_tensors[k]);
      TensorPlacement& place = layout.placements[parts[s][k]];
      place.shard = s;
      place.file_offset = shard.header.size() + offsets[k];
      place.nbytes = bytes;
      place.ggml_type = part_tensors[k].type;
      layout.total_tensor_bytes += bytes;
      // Each tensor padded to the alignment, the last one too, as llama.cpp's writers do.
      shard.file_size = shard.header.size() + round_up(offsets[k] + bytes, alignment);
    }
    layout.shards.push_back(std::move(shard));
  }
  return layout;
}

}  // namespace alloy
