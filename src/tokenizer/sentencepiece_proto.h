// Edits of a serialized SentencePiece ModelProto (tokenizer.model) made before the library loads it.
// llama.cpp's SentencePiece tokenizer applies no normalizer: it adds one space in front, turns each
// space into U+2581 and keeps every other character as it is. libsentencepiece follows the model's
// NormalizerSpec, whose defaults collapse repeated spaces and strip leading and trailing ones.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloy {

// `model_proto` with its normalizer made llama.cpp's: no character normalization (no charsmap),
// remove_extra_whitespaces off, add_dummy_prefix and escape_whitespaces on.
// Protobuf merges a repeated embedded message into the earlier one and the last value of a scalar
// field wins, so appending one NormalizerSpec (ModelProto field 3) with these four fields suffices.
std::string with_llama_cpp_normalizer(std::string_view model_proto);

// The piece strings of `model_proto`'s vocabulary (ModelProto field 1, each a SentencePiece whose
// field 1 is the piece; as protobuf reads it, the last occurrence wins and an absent one is ""),
// or nullopt where the bytes are not well-formed protobuf.
// libsentencepiece indexes pieces in a trie keyed by C strings and aborts the process on a piece
// that starts with a NUL byte (an empty key), so such a model is refused before the library sees it.
std::optional<std::vector<std::string_view>> model_pieces(std::string_view model_proto);

}  // namespace alloy
