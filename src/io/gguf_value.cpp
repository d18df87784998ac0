#include "io/gguf_value.h"

#include <cstdio>
#include <cstring>
#include <limits>

#include "util/error.h"

namespace alloy {

namespace {

struct TypeRow {
  std::string_view name;
  size_t size;
};
constexpr TypeRow kTypes[kGgufTypeCount] = {
    {"u8", 1},  {"i8", 1},   {"u16", 2},    {"i16", 2},   {"u32", 4}, {"i32", 4}, {"f32", 4},
    {"bool", 1}, {"string", 0}, {"array", 0}, {"u64", 8}, {"i64", 8}, {"f64", 8},
};

const TypeRow& row(GgufType t) {
  auto i = static_cast<uint32_t>(t);
  if (i >= kGgufTypeCount) fail("unknown GGUF value type ", i);
  return kTypes[i];
}

uint64_t load_le(const std::byte* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string quoted(const std::string& s, size_t max_chars) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > max_chars) out += "...";
  return out + "\"";
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

std::string_view gguf_type_name(GgufType type) { return row(type).name; }
size_t gguf_type_size(GgufType type) { return row(type).size; }
bool gguf_type_is_integer(GgufType t) {
  return t == GgufType::U8 || t == GgufType::I8 || t == GgufType::U16 || t == GgufType::I16 || t == GgufType::U32 ||
         t == GgufType::I32 || t == GgufType::U64 || t == GgufType::I64;
}

std::optional<int64_t> GgufValue::as_int() const {
  if (type == GgufType::U64 && unsigned_integer > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  if (gguf_type_is_integer(type) || type == GgufType::BOOL) return integer;
  return std::nullopt;
}

std::optional<double> GgufValue::as_double() const {
  if (type == GgufType::F32 || type == GgufType::F64) return real;
  if (type == GgufType::U64) return static_cast<double>(unsigned_integer);
  if (gguf_type_is_integer(type) || type == GgufType::BOOL) return static_cast<double>(integer);
  return std::nullopt;
}

GgufValue GgufValue::element(uint64_t i) const {
  if (type != GgufType::ARRAY || i >= count) fail("GGUF value has no element ", i);
  GgufValue v;
  v.type = element_type;
  if (element_type == GgufType::STRING) {
    v.text = strings[i];
    return v;
  }
  if (element_type == GgufType::ARRAY) return arrays[i];
  const size_t size = gguf_type_size(element_type);
  const std::byte* p = raw.data() + i * size;
  const uint64_t bits = load_le(p, size);
  switch (element_type) {
    case GgufType::F32: {
      auto b = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &b, 4);
      v.real = f;
      break;
    }
    case GgufType::F64:
      std::memcpy(&v.real, &bits, 8);
      break;
    case GgufType::I8: v.integer = static_cast<int8_t>(bits); break;
    case GgufType::I16: v.integer = static_cast<int16_t>(bits); break;
    case GgufType::I32: v.integer = static_cast<int32_t>(bits); break;
    case GgufType::I64: v.integer = static_cast<int64_t>(bits); break;
    default:  // unsigned and bool
      v.integer = static_cast<int64_t>(bits);
      break;
  }
  v.unsigned_integer = element_type == GgufType::I8 || element_type == GgufType::I16 || element_type == GgufType::I32 ||
                               element_type == GgufType::I64
                           ? static_cast<uint64_t>(v.integer)
                           : bits;
  return v;
}

std::string gguf_value_text(const GgufValue& v, size_t max_elements, size_t max_chars) {
  switch (v.type) {
    case GgufType::STRING: return quoted(v.text, max_chars);
    case GgufType::BOOL: return v.integer ? "true" : "false";
    case GgufType::F32:
    case GgufType::F64: return number_text(v.real);
    case GgufType::U64: return std::to_string(v.unsigned_integer);
    case GgufType::ARRAY: {
      std::string out = cat("[", gguf_type_name(v.element_type), " × ", v.count, v.count ? ": " : "");
      for (uint64_t i = 0; i < v.count && i < max_elements; ++i)
        out += (i ? ", " : "") + gguf_value_text(v.element(i), max_elements, max_chars);
      if (v.count > max_elements) out += ", ...";
      return out + "]";
    }
    default: return std::to_string(v.integer);
  }
}

}  // namespace alloy
