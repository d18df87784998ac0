#include "tokenizer/sentencepiece_proto.h"

#include <cstdint>

namespace alloy {
namespace {

// One protobuf key byte: field number and wire type (0 varint, 2 length-delimited); all fields
// written here are below 16, so a key is one byte and a length below 128 is one byte.
char key(int field, int wire_type) { return static_cast<char>((field << 3) | wire_type); }

std::string length_delimited(int field, std::string_view bytes) {
  std::string out;
  out += key(field, 2);
  out += static_cast<char>(bytes.size());  // < 128: the spec below is a few bytes
  out += bytes;
  return out;
}

std::string varint_field(int field, uint8_t value) {
  return std::string{key(field, 0), static_cast<char>(value)};
}

}  // namespace

std::string with_llama_cpp_normalizer(std::string_view model_proto) {
  // NormalizerSpec: 1 name, 2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces,
  // 5 escape_whitespaces (sentencepiece_model.proto).
  std::string spec = length_delimited(1, "identity") + length_delimited(2, "") + varint_field(3, 1) +
                     varint_field(4, 0) + varint_field(5, 1);
  std::string out(model_proto);
  out += length_delimited(3, spec);
  return out;
}

}  // namespace alloy
