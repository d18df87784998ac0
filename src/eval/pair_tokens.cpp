#include "eval/pair_tokens.h"

#include "util/error.h"

namespace alloy {

namespace {

// Longest text (special tokens included) whose positions the model has.
int64_t max_tokens(const EncoderConfig& c) {
  return c.family == EncoderFamily::kRoberta ? c.max_positions - c.pad_token_id - 1 : c.max_positions;
}

}  // namespace

PairTokenizer::PairTokenizer(const std::filesystem::path& model_dir, const EncoderConfig& config)
    : tokenizer_(load_tokenizer(model_dir)),
      template_(sequence_template(model_dir, *tokenizer_, config.family)),
      limit_(max_tokens(config)) {}

std::vector<int32_t> PairTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> body = tokenizer_->encode(text);
  const int64_t room = limit_ - static_cast<int64_t>(template_.before.size() + template_.after.size());
  if (room < 1) fail("max_position_embeddings leaves no room for a token between the special tokens");
  if (static_cast<int64_t>(body.size()) > room) body.resize(static_cast<size_t>(room));
  return template_.wrap(body);
}

}  // namespace alloy
