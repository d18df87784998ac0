// tokenizer.json's "normalizer": a function of the text applied before pre-tokenization.
#pragma once
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace alloy {

using Normalizer = std::function<std::string(const std::string&)>;

// The normalizer `spec` describes (null: none, the identity). Supported types: BertNormalizer,
// Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Replace, Prepend, Strip, Sequence. Throws Error
// naming `file` and the type for any other.
Normalizer make_normalizer(const nlohmann::json& spec, const std::string& file);

// BERT's normalizer: control characters dropped and whitespace made ' ' (clean_text), CJK
// ideographs padded with spaces, accents stripped (NFD less Mn) and lowercased.
std::string bert_normalize(const std::string& text, bool clean_text, bool handle_chinese_chars,
                           bool strip_accents, bool lowercase);

}  // namespace alloy
