// ModelVocabulary: one input model's Hugging Face tokenizer.json as vocabulary merging sees it —
// every token string with its id (model vocabulary and added tokens, as transformers' get_vocab()
// gives them) and the number of embedding rows the model's config declares. Editing helpers for
// the tokenizer.json value (stripping ids past a size, adding tokens) live here too.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace alloy {

struct ModelVocabulary {
  std::filesystem::path file;  // tokenizer.json, for messages
  nlohmann::json tokenizer;    // as read
  std::unordered_map<std::string, int64_t> ids;  // vocabulary and added tokens (added win)
  std::unordered_map<int64_t, nlohmann::json> added;  // added_tokens entries by id
  int64_t size = 0;  // config.json's vocabulary size; the number of ids when it has none

  std::optional<int64_t> id_of(const std::string& token) const;
  bool is_added(int64_t id) const { return added.count(id) > 0; }
  // (token, id) pairs in id order (a token of the vocabulary and an added token may share an id).
  std::vector<std::pair<std::string, int64_t>> by_id() const;
};

// Reads <dir>/tokenizer.json. `vocab_size`: the config's value, when it has one. Throws Error naming
// the file when it is missing, unreadable, or of a model type other than BPE, WordPiece or Unigram.
ModelVocabulary read_model_vocabulary(const std::filesystem::path& dir, std::optional<int64_t> vocab_size);

// The vocabulary of a tokenizer.json value (rebuilt after edits), as read_model_vocabulary does.
ModelVocabulary vocabulary_of(nlohmann::json tokenizer, const std::filesystem::path& file,
                              std::optional<int64_t> vocab_size);

// Removes every token with id >= size from a tokenizer.json value: added tokens, vocabulary
// entries (Unigram: the list's tail) and BPE merges that name a removed token or make one.
void strip_tokenizer(nlohmann::json& tokenizer, int64_t size);

// Adds tokens, in order, as the tokenizers library's add_tokens does: nothing for an added token
// already there; the vocabulary's id when the model has the token; else the next free id. Each
// entry holds the content and flags (single_word, lstrip, rstrip, normalized, special); ids are set here.
void add_tokens(nlohmann::json& tokenizer, const std::vector<nlohmann::json>& entries);

// An added_tokens entry for a plain token as add_tokens("text") makes it: not special, normalized.
nlohmann::json plain_added_token(const std::string& content);

}  // namespace alloy
