#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <string>

namespace alloy {
namespace {

constexpr std::array<DTypeTraits, kDTypeCount> kTraits = {{
    {DType::F32, "F32", "float32", 4, true, true},
    {DType::F16, "F16", "float16", 2, true, true},
    {DType::BF16, "BF16", "bfloat16", 2, true, true},
    {DType::F64, "F64", "float64", 8, true, true},
    {DType::I64, "I64", "int64", 8, false, false},
    {DType::I32, "I32", "int32", 4, false, false},
    {DType::I16, "I16", "int16", 2, false, false},
    {DType::I8, "I8", "int8", 1, false, false},
    {DType::U8, "U8", "uint8", 1, false, false},
    {DType::BOOL, "BOOL", "bool", 1, false, false},
    {DType::F8_E4M3, "F8_E4M3", "float8_e4m3fn", 1, true, false},
    {DType::F8_E5M2, "F8_E5M2", "float8_e5m2", 1, true, false},
}};

}  // namespace

const DTypeTraits& traits(DType t) { return kTraits[static_cast<size_t>(t)]; }

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (const auto& row : kTraits)
    if (row.safetensors_name == name) return row.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_torch_name(std::string_view name) {
  if (name.substr(0, 6) == "torch.") name.remove_prefix(6);
  for (const auto& row : kTraits)
    if (row.torch_name == name || row.safetensors_name == name) return row.dtype;
  if (name == "fp16" || name == "half") return DType::F16;
  if (name == "bf16") return DType::BF16;
  if (name == "fp32" || name == "float") return DType::F32;
  return std::nullopt;
}

}  // namespace alloy
