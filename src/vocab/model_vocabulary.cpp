#include "vocab/model_vocabulary.h"

#include <algorithm>
#include <unordered_set>

#include "io/checkpoint.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string model_type(const json& tokenizer, const fs::path& file) {
  const json* model = tokenizer.is_object() && tokenizer.contains("model") ? &tokenizer["model"] : nullptr;
  if (!model || !model->is_object() || !model->contains("vocab"))
    fail(file.string(), ": has no model.vocab: not a Hugging Face tokenizer.json");
  const std::string type = model->value("type", "");
  if (type != "BPE" && type != "WordPiece" && type != "Unigram")
    fail(file.string(), ": model type '", type, "' is not supported for vocabulary merging (BPE, WordPiece and "
         "Unigram are); drop tokenizer_source/tokenizer: from the recipe to copy the donor's tokenizer");
  return type;
}

int64_t entry_id(const json& id, const fs::path& file, const std::string& token) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0)
    fail(file.string(), ": token '", token, "' has id ", id.dump(), ", not a non-negative integer");
  return id.get<int64_t>();
}

// The BPE merge's two parts: "a b" or ["a", "b"].
std::pair<std::string, std::string> merge_parts(const json& merge) {
  if (merge.is_array() && merge.size() == 2) return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  const std::string s = merge.get<std::string>();
  const size_t space = s.find(' ');
  if (space == std::string::npos) return {s, ""};
  return {s.substr(0, space), s.substr(space + 1)};
}

}  // namespace

std::optional<int64_t> ModelVocabulary::id_of(const std::string& token) const {
  auto it = ids.find(token);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, int64_t>> ModelVocabulary::by_id() const {
  std::vector<std::pair<std::string, int64_t>> out(ids.begin(), ids.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second < b.second : a.first < b.first;
  });
  return out;
}

ModelVocabulary vocabulary_of(json tokenizer, const fs::path& file, std::optional<int64_t> vocab_size) {
  ModelVocabulary v;
  v.file = file;
  const std::string type = model_type(tokenizer, file);
  const json& vocab = tokenizer["model"]["vocab"];
  if (type == "Unigram") {
    if (!vocab.is_array()) fail(file.string(), ": Unigram model.vocab is not a list of [piece, score]");
    for (size_t i = 0; i < vocab.size(); ++i) {
      if (!vocab[i].is_array() || vocab[i].empty() || !vocab[i][0].is_string())
        fail(file.string(), ": Unigram model.vocab[", i, "] is not [piece, score]");
      v.ids.emplace(vocab[i][0].get<std::string>(), static_cast<int64_t>(i));
    }
  } else {
    if (!vocab.is_object()) fail(file.string(), ": ", type, " model.vocab is not an object of token ids");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) v.ids[it.key()] = entry_id(it.value(), file, it.key());
  }
  if (tokenizer.contains("added_tokens") && !tokenizer["added_tokens"].is_null()) {
    if (!tokenizer["added_tokens"].is_array()) fail(file.string(), ": added_tokens is not a list");
    for (const json& entry : tokenizer["added_tokens"]) {
      if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string() || !entry.contains("id"))
        fail(file.string(), ": an added_tokens entry lacks its id or content: ", entry.dump());
      const std::string content = entry["content"].get<std::string>();
      const int64_t id = entry_id(entry["id"], file, content);
      v.ids[content] = id;
      v.added.emplace(id, entry);
    }
  }
  v.size = vocab_size.value_or(static_cast<int64_t>(v.ids.size()));
  v.tokenizer = std::move(tokenizer);
  return v;
}

ModelVocabulary read_model_vocabulary(const fs::path& dir, std::optional<int64_t> vocab_size) {
  const fs::path file = dir / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    fail(file.string(), ": not found; vocabulary merging reads each model's Hugging Face tokenizer.json");
  return vocabulary_of(read_json_file(file), file, vocab_size);
}

void strip_tokenizer(json& tokenizer, int64_t size) {
  json& model = tokenizer["model"];
  const std::string type = model.value("type", "");
  std::unordered_set<std::string> removed;
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    json kept = json::array();
    for (const json& entry : tokenizer["added_tokens"]) {
      if (entry["id"].get<int64_t>() < size) kept.push_back(entry);
      else removed.insert(entry["content"].get<std::string>());
    }
    tokenizer["added_tokens"] = std::move(kept);
  }
  json& vocab = model["vocab"];
  if (type == "Unigram") {
    while (static_cast<int64_t>(vocab.size()) > size) {
      removed.insert(vocab.back()[0].get<std::string>());
      vocab.erase(vocab.size() - 1);
    }
    return;
  }
  for (auto it = vocab.begin(); it != vocab.end();) {
    if (it.value().get<int64_t>() >= size) {
      removed.insert(it.key());
      it = vocab.erase(it);
    } else {
      ++it;
    }
  }
  if (type != "BPE" || !model.contains("merges") || !model["merges"].is_array()) return;
  json kept = json::array();
  for (const json& merge : model["merges"]) {
    const auto [a, b] = merge_parts(merge);
    if (!removed.count(a) && !removed.count(b) && !removed.count(a + b)) kept.push_back(merge);
  }
  model["merges"] = std::move(kept);
}

json plain_added_token(const std::string& content) {
  return json{{"id", 0},          {"content", content}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false},  {"normalized", true}, {"special", false}};
}

void add_tokens(json& tokenizer, const std::vector<json>& entries) {
  if (!tokenizer.contains("added_tokens") || !tokenizer["added_tokens"].is_array())
    tokenizer["added_tokens"] = json::array();
  json& added = tokenizer["added_tokens"];
  std::unordered_set<std::string> added_contents;
  int64_t next = 0;
  for (const json& e : added) {
    added_contents.insert(e["content"].get<std::string>());
    next = std::max(next, e["id"].get<int64_t>() + 1);
  }
  std::unordered_map<std::string, int64_t> vocab_ids;
  const json& vocab = tokenizer["model"]["vocab"];
  if (vocab.is_array()) {
    for (size_t i = 0; i < vocab.size(); ++i) vocab_ids.emplace(vocab[i][0].get<std::string>(), i);
    next = std::max(next, static_cast<int64_t>(vocab.size()));
  } else {
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      vocab_ids.emplace(it.key(), it.value().get<int64_t>());
      next = std::max(next, it.value().get<int64_t>() + 1);
    }
  }
  for (json entry : entries) {
    const std::string content = entry["content"].get<std::string>();
    if (!added_contents.insert(content).second) continue;
    auto known = vocab_ids.find(content);
    entry["id"] = known != vocab_ids.end() ? known->second : next++;
    added.push_back(std::move(entry));
  }
}

}  // namespace alloy
