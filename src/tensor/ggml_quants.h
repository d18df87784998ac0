// ggml tensor types (the `ggml_type` ids a GGUF file stores) and their block layouts: one traits
// row per type (name, elements and bytes per block, dequantiser), as ggml's own type-traits table,
// so readers and writers never switch on a type to learn its size. Dequantisers are written from
// the block layouts (see docs/gguf.md); types alloy cannot decode have none and are refused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace alloy {

// Values are the ids stored in GGUF tensor infos; only ids listed in the traits table are known.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

// Decodes `blocks` consecutive blocks at `src` (unaligned bytes) into blocks * block_elements floats.
using DequantiseBlocks = void (*)(const std::byte* src, float* dst, uint64_t blocks);

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;      // "Q4_K", as ggml and llama.cpp print it
  uint32_t block_elements;    // elements per block (1 for plain types)
  uint32_t block_bytes;       // bytes per block
  DequantiseBlocks dequantise;  // nullptr where alloy cannot decode the type
};

// The traits of a stored type id; nullopt for ids that are retired or unknown.
const GgmlTypeTraits* ggml_type_traits(uint32_t id);
const GgmlTypeTraits& traits(GgmlType type);
inline std::string_view ggml_type_name(GgmlType type) { return traits(type).name; }
// "q4_k" or "Q4_K" -> Q4_K; nullopt for names not in the table.
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Decodes n elements (a multiple of the type's block size) of `type` at `src` into f32. Throws
// Error naming the type when alloy has no dequantiser for it or n is not whole blocks.
void dequantise(GgmlType type, const std::byte* src, float* dst, uint64_t n);

}  // namespace alloy
