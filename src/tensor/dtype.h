// DType: the element types alloy reads and writes, and one traits row per type (ggml-style table)
// so that code never switches on a dtype to learn its size or name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace alloy {

enum class DType : uint8_t {
  F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2,
};
inline constexpr int kDTypeCount = 12;

struct DTypeTraits {
  DType dtype;
  std::string_view safetensors_name;  // "BF16"
  std::string_view torch_name;        // "bfloat16" (config.json / recipe spelling)
  size_t size;                        // bytes per element
  bool is_float;                      // can be a merge input (converted to f32)
  bool is_writable_float;             // can be a merge output (F32, F16, BF16, F64)
};

const DTypeTraits& traits(DType t);
inline size_t dtype_size(DType t) { return traits(t).size; }
inline std::string_view dtype_name(DType t) { return traits(t).safetensors_name; }

// "BF16" -> BF16; nullopt for names alloy does not know.
std::optional<DType> dtype_from_safetensors(std::string_view name);
// Recipe / config.json spelling: "bfloat16", "float16", "float32", "float64", "int64", with an
// optional "torch." prefix; also accepts the safetensors names ("BF16") and "fp16"/"bf16"/"fp32".
std::optional<DType> dtype_from_torch_name(std::string_view name);

}  // namespace alloy
