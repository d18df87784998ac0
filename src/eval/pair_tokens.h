// How an embedding model reads a text of a (query, positive) pair: its tokenizer's ids wrapped in
// the special tokens of its post-processor, truncated to the positions the model has (as
// sentence-transformers truncates). Shared by `alloy eval --pairs` and the .jsonl probes that
// data-aware merges learn from, so both see the same token sequences.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "eval/sequence_template.h"
#include "model/encoder_config.h"
#include "tokenizer/tokenizer.h"

namespace alloy {

class PairTokenizer {
 public:
  // Loads the tokenizer and sequence template of `model_dir`; Error when it has none.
  PairTokenizer(const std::filesystem::path& model_dir, const EncoderConfig& config);
  // The wrapped, truncated ids of one text.
  std::vector<int32_t> encode(const std::string& text) const;

 private:
  std::unique_ptr<Tokenizer> tokenizer_;
  SequenceTemplate template_;
  int64_t limit_ = 0;  // longest sequence, special tokens included
};

}  // namespace alloy
