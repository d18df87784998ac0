// GGUF output: the bytes of a GGUF header (magic, version 3, metadata, tensor infos, padding) and
// where each tensor's bytes go, in one file or a split set laid out as llama.cpp's gguf-split
// writes it. Every output tensor's name, dimensions and ggml type are known after planning, so the
// header, with every data offset, is written before any tensor is merged, and tensors then stream
// straight into their places (output_layout.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_file.h"
#include "io/output_layout.h"

namespace alloy {

// One tensor of a GGUF output: what its tensor info says.
struct GgufOutputTensor {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] = row length
  GgmlType type = GgmlType::F32;
};
uint64_t gguf_tensor_bytes(const GgufOutputTensor& tensor);  // whole blocks of the type; throws if not

// Metadata values, typed as llama.cpp's writer types them.
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_u16(uint16_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string_value(std::string v);
GgufValue gguf_string_array(std::vector<std::string> v);
GgufValue gguf_f32_array(const std::vector<float>& v);
GgufValue gguf_i32_array(const std::vector<int32_t>& v);

// Sets `key` in place when present, else appends it (the order of llama.cpp's writers).
void gguf_set(std::vector<GgufKeyValue>& metadata, const std::string& key, GgufValue value);
void gguf_erase(std::vector<GgufKeyValue>& metadata, const std::string& key);

// The header of a file holding `tensors` in this order: each at the next multiple of `alignment`
// in the data section (offsets written to *offsets when given), the header zero-padded to the
// alignment so the data section starts at its end.
std::string gguf_header_bytes(const std::vector<GgufKeyValue>& metadata, const std::vector<GgufOutputTensor>& tensors,
                              uint64_t alignment, std::vector<uint64_t>* offsets = nullptr);

// The output files: `file_name` alone ("model.gguf") when everything fits in max_split_bytes (0: no
// limit), else "<stem>-0000N-of-0000M.gguf" as gguf-split cuts them: a new part when the next
// tensor (padded to the alignment) would take the part's tensor bytes past the limit, the whole
// metadata in the first part only, and split.no (u16), split.count (u16) and split.tensors.count
// (i32) in every part. Placements are in `tensors` order; each carries its tensor's ggml type.
OutputLayout layout_gguf(const std::vector<GgufKeyValue>& metadata, const std::vector<GgufOutputTensor>& tensors,
                         uint64_t max_split_bytes, const std::string& file_name);

}  // namespace alloy
