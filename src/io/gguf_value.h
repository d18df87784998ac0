// GgufValue: one typed GGUF metadata value (the 13 value types of the format, arrays nested to any
// validated depth). Numeric arrays keep their stored little-endian bytes (one copy, no per-element
// objects), so a tokenizer's 150k scores cost what they cost on disk and a writer can copy them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

// Ids as stored in the file.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

std::string_view gguf_type_name(GgufType type);  // "u32", "string", "array"
// Bytes of one stored value of a fixed-size type (0 for STRING and ARRAY).
size_t gguf_type_size(GgufType type);
bool gguf_type_is_integer(GgufType type);  // U8..I64 (not BOOL)

struct GgufValue {
  GgufType type = GgufType::U8;
  // Scalars: integers and bools in `integer` (signed types sign-extended, unsigned ones that do
  // not fit int64 only through `unsigned_integer`), floats in `real`, strings in `text`.
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double real = 0;
  std::string text;
  // Arrays: the element type and count; elements of fixed-size types in `raw` (count · size
  // bytes as stored), strings in `strings`, nested arrays in `arrays`.
  GgufType element_type = GgufType::U8;
  uint64_t count = 0;
  std::vector<std::byte> raw;
  std::vector<std::string> strings;
  std::vector<GgufValue> arrays;

  // An integer of any width, or a bool as 0/1; nullopt for other types or a u64 above INT64_MAX.
  std::optional<int64_t> as_int() const;
  // A float or an integer as a double; nullopt for strings and arrays.
  std::optional<double> as_double() const;
  // Element i of a numeric/bool array as a scalar value (i < count).
  GgufValue element(uint64_t i) const;
};

// A short human-readable rendering: numbers and quoted strings as they are, arrays as
// "[u32 × 3: 1, 2, 3]" with at most `max_elements` shown and strings cut at `max_chars`.
std::string gguf_value_text(const GgufValue& value, size_t max_elements = 8, size_t max_chars = 60);

}  // namespace alloy
