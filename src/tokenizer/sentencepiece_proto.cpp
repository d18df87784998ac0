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

// Reads protobuf's wire format one field at a time; each read answers false on malformed bytes.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }

  bool varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && !rest_.empty(); shift += 7) {
      const auto byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // The next field's number and wire type; a length-delimited field's bytes go to `payload`,
  // every other wire type is skipped (a group up to its matching end).
  bool field(uint64_t& number, int& wire_type, std::string_view& payload) {
    uint64_t key = 0;
    if (!varint(key)) return false;
    number = key >> 3;
    wire_type = static_cast<int>(key & 7);
    return number != 0 && skip_value(number, wire_type, payload);
  }

 private:
  bool take(uint64_t n, std::string_view& out) {
    if (n > rest_.size()) return false;
    out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }

  bool skip_value(uint64_t number, int wire_type, std::string_view& payload, int depth = 0) {
    uint64_t value = 0;
    std::string_view ignored;
    switch (wire_type) {
      case 0: return varint(value);
      case 1: return take(8, ignored);
      case 2: return varint(value) && take(value, payload);
      case 5: return take(4, ignored);
      case 3:  // a group: fields until the end-group key with the same number
        if (depth > 64) return false;
        for (;;) {
          uint64_t key = 0;
          if (!varint(key)) return false;
          if ((key & 7) == 4) return (key >> 3) == number;
          if (!skip_value(key >> 3, static_cast<int>(key & 7), ignored, depth + 1)) return false;
        }
      default: return false;
    }
  }

  std::string_view rest_;
};

}  // namespace

std::optional<std::vector<std::string_view>> model_pieces(std::string_view model_proto) {
  // ModelProto: 1 pieces (repeated SentencePiece); SentencePiece: 1 piece (sentencepiece_model.proto).
  std::vector<std::string_view> pieces;
  WireReader model(model_proto);
  while (!model.done()) {
    uint64_t number = 0;
    int wire_type = 0;
    std::string_view message;
    if (!model.field(number, wire_type, message)) return std::nullopt;
    if (number != 1 || wire_type != 2) continue;
    std::string_view piece;
    WireReader entry(message);
    while (!entry.done()) {
      std::string_view value;
      if (!entry.field(number, wire_type, value)) return std::nullopt;
      if (number == 1 && wire_type == 2) piece = value;
    }
    pieces.push_back(piece);
  }
  return pieces;
}

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
