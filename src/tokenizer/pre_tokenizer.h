// tokenizer.json's "pre_tokenizer": cuts normalized text into the words the model encodes one by one.
#pragma once
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace alloy {

// Words in, words out: a Sequence applies each step to every word of the previous one.
// `first_section`: the text is the start of the input (no added token before it), which
// Metaspace's prepend_scheme "first" asks.
using PreTokenizer = std::function<std::vector<std::string>(std::vector<std::string>, bool first_section)>;

// The pre-tokenizer `spec` describes (null: the whole text is one word). Supported types: ByteLevel,
// Split, BertPreTokenizer, Whitespace, WhitespaceSplit, Digits, Metaspace, Sequence. Throws Error
// naming `file` and the type for any other.
PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& file);

}  // namespace alloy
