// The special tokens an encoder's tokenizer puts around one text ([CLS] ... [SEP] for BERT,
// <s> ... </s> for RoBERTa), read from tokenizer.json's "post_processor" (TemplateProcessing,
// BertProcessing, RobertaProcessing, or a Sequence of them), since Tokenizer::encode adds none.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/encoder_config.h"
#include "tokenizer/tokenizer.h"

namespace alloy {

struct SequenceTemplate {
  std::vector<int32_t> before, after;
  std::vector<int32_t> wrap(const std::vector<int32_t>& body) const;
};

// From a post_processor object; an empty template when it adds no special token (ByteLevel, null).
// Throws Error naming the field for a malformed one.
SequenceTemplate template_from_post_processor(const nlohmann::json& post_processor);

// The model directory's template: tokenizer.json's post_processor when it adds tokens, else the
// family's convention looked up in the vocabulary; Error when the tokenizer lacks those tokens.
SequenceTemplate sequence_template(const std::filesystem::path& model_dir, const Tokenizer& tokenizer,
                                   EncoderFamily family);

}  // namespace alloy
