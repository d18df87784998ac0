// Edits of a serialized SentencePiece ModelProto (tokenizer.model) made before the library loads it.
// llama.cpp's SentencePiece tokenizer applies no normalizer: it adds one space in front, turns each
// space into U+2581 and keeps every other character as it is. libsentencepiece follows the model's
// NormalizerSpec, whose defaults collapse repeated spaces and strip leading and trailing ones.
#pragma once
#include <string>
#include <string_view>

namespace alloy {

// `model_proto` with its normalizer made llama.cpp's: no character normalization (no charsmap),
// remove_extra_whitespaces off, add_dummy_prefix and escape_whitespaces on.
// Protobuf merges a repeated embedded message into the earlier one and the last value of a scalar
// field wins, so appending one NormalizerSpec (ModelProto field 3) with these four fields suffices.
std::string with_llama_cpp_normalizer(std::string_view model_proto);

}  // namespace alloy
