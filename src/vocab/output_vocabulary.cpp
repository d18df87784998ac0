// Follows mergekit's build_tokenizer and PermutedEmbeddings (spec §5); where it differs (the order
// of new tokens, ids past a model's vocabulary size) docs/tokenizers.md says how and why.
#include "vocab/output_vocabulary.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <unordered_set>

#include "io/checkpoint.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// mergekit's build_union_tokenizer: the base's tokenizer, then every other model's regular tokens
// it lacks (as plain added tokens), then every model's added tokens with their flags (the first
// definition wins). Tokens with ids past a model's vocabulary size are left out.
json union_tokenizer(const std::vector<VocabInput>& models, size_t base, json base_tokenizer) {
  std::vector<size_t> order{base};
  for (size_t m = 0; m < models.size(); ++m)
    if (m != base) order.push_back(m);
  std::vector<std::string> regular;
  std::unordered_set<std::string> seen_regular, seen_added;
  std::vector<json> added;
  for (size_t m : order) {
    const ModelVocabulary& v = models[m].vocab;
    for (const auto& [token, id] : v.by_id()) {
      if (id >= v.size) continue;
      if (v.is_added(id) && v.added.at(id)["content"] == token) {
        if (seen_added.insert(token).second) added.push_back(v.added.at(id));
      } else if (seen_regular.insert(token).second) {
        regular.push_back(token);
      }
    }
  }
  const ModelVocabulary stripped_base = vocabulary_of(base_tokenizer, models[base].vocab.file, std::nullopt);
  std::vector<json> entries;
  for (const std::string& token : regular)
    if (!seen_added.count(token) && !stripped_base.ids.count(token)) entries.push_back(plain_added_token(token));
  for (const json& entry : added) entries.push_back(entry);
  add_tokens(base_tokenizer, entries);
  return base_tokenizer;
}

json read_optional_json(const fs::path& file) {
  std::error_code ec;
  return fs::is_regular_file(file, ec) ? read_json_file(file) : json::object();
}

// transformers writes every added token into tokenizer_config.json's added_tokens_decoder.
json added_tokens_decoder(const json& tokenizer) {
  json out = json::object();
  for (const json& e : tokenizer["added_tokens"])
    out[std::to_string(e["id"].get<int64_t>())] =
        json{{"content", e["content"]},         {"lstrip", e.value("lstrip", false)},
             {"normalized", e.value("normalized", true)}, {"rstrip", e.value("rstrip", false)},
             {"single_word", e.value("single_word", false)}, {"special", e.value("special", false)}};
  return out;
}

class DefaultRows {
 public:
  DefaultRows(const Recipe& recipe, const std::vector<VocabInput>& models, size_t base, OutputVocabulary& out)
      : recipe_(recipe), models_(models), base_(base), out_(out) {}

  size_t model_index(const ModelRef& ref) const {
    for (size_t m = 0; m < models_.size(); ++m)
      if (models_[m].ref == ref) return m;
    fail(recipe_.where(ref.loc), ": model '", ref.str(), "' is not among the recipe's models");
  }

  DefaultRow configured(const TokenSetting& s, int64_t id) const {
    const std::string at = cat(recipe_.where(s.loc), ": tokenizer.tokens '", s.token, "': ");
    DefaultRow row;
    row.force = s.force;
    if (s.source.kind == TokenSource::Kind::Zero) return row;
    row.kind = DefaultRow::Kind::Model;
    row.model = model_index(s.source.model);
    const VocabInput& m = models_[row.model];
    if (s.source.kind == TokenSource::Kind::Model) {
      row.row = out_.old_ids[row.model][static_cast<size_t>(id)];
      if (row.row < 0)
        fail(at, "model '", m.label, "' has no token '", s.token, "' (within its ", m.vocab.size,
             " embedding rows); name a model that has it, or use {kind: model_token, model: ..., token: ...}");
      return row;
    }
    if (s.source.token_id) {
      row.row = *s.source.token_id;
      if (row.row >= m.vocab.size)
        fail(at, "token_id ", row.row, " is past model '", m.label, "''s ", m.vocab.size, " embedding rows");
      return row;
    }
    const std::optional<int64_t> old = m.vocab.id_of(*s.source.token);
    if (!old) fail(at, "model '", m.label, "' has no token '", *s.source.token, "' in ", m.vocab.file.string());
    if (*old >= m.vocab.size)
      fail(at, "token '", *s.source.token, "' of model '", m.label, "' has id ", *old, ", past its ", m.vocab.size,
           " embedding rows");
    row.row = *old;
    return row;
  }

  // Spec §5.2: one model has it -> that model; none -> zero; the base has it -> the base;
  // else the mean over the models that have it.
  DefaultRow automatic(int64_t id) const {
    DefaultRow row;
    std::vector<size_t> have;
    for (size_t m = 0; m < models_.size(); ++m)
      if (out_.old_ids[m][static_cast<size_t>(id)] >= 0) have.push_back(m);
    if (have.empty()) {
      if (!out_.tokens[static_cast<size_t>(id)].empty())
        std::cerr << "alloy: token '" << out_.tokens[static_cast<size_t>(id)]
                  << "' is in no model's vocabulary; its embedding rows are zero\n";
      return row;
    }
    if (have.size() == 1 || std::find(have.begin(), have.end(), base_) != have.end()) {
      row.kind = DefaultRow::Kind::Model;
      row.model = have.size() == 1 ? have.front() : base_;
      row.row = out_.old_ids[row.model][static_cast<size_t>(id)];
      return row;
    }
    row.kind = DefaultRow::Kind::Average;
    return row;
  }

 private:
  const Recipe& recipe_;
  const std::vector<VocabInput>& models_;
  size_t base_;
  OutputVocabulary& out_;
};

}  // namespace

OutputVocabulary build_output_vocabulary(const Recipe& recipe, const TokenizerSettings& settings,
                                         const std::vector<VocabInput>& models, size_t base) {
  OutputVocabulary out;
  size_t source = base;
  json tokenizer;
  if (settings.source == TokenizerSettings::Source::Model) {
    source = DefaultRows(recipe, models, base, out).model_index(settings.model);
    tokenizer = models[source].vocab.tokenizer;
  } else {
    tokenizer = models[base].vocab.tokenizer;
    strip_tokenizer(tokenizer, models[base].vocab.size);
    if (settings.source == TokenizerSettings::Source::Union) tokenizer = union_tokenizer(models, base, tokenizer);
  }
  std::vector<json> configured;
  for (const TokenSetting& s : settings.tokens) configured.push_back(plain_added_token(s.token));
  add_tokens(tokenizer, configured);

  const ModelVocabulary merged = vocabulary_of(tokenizer, models[source].vocab.file, std::nullopt);
  int64_t size = 0;
  for (const auto& [token, id] : merged.ids) size = std::max(size, id + 1);
  out.tokens.assign(static_cast<size_t>(size), "");
  for (const auto& [token, id] : merged.by_id())
    if (!merged.is_added(id) || merged.added.at(id)["content"] == token) out.tokens[static_cast<size_t>(id)] = token;
  const int64_t multiple = settings.pad_to_multiple_of.value_or(1);
  out.padded_size = (size + multiple - 1) / multiple * multiple;

  for (const VocabInput& m : models) {
    std::vector<int64_t> old(static_cast<size_t>(size), -1);
    for (int64_t id = 0; id < size; ++id) {
      const std::optional<int64_t> o = m.vocab.id_of(out.tokens[static_cast<size_t>(id)]);
      if (o && *o < m.vocab.size && !out.tokens[static_cast<size_t>(id)].empty()) old[static_cast<size_t>(id)] = *o;
    }
    out.old_ids.push_back(std::move(old));
  }

  DefaultRows rows(recipe, models, base, out);
  std::map<int64_t, const TokenSetting*> by_id;
  for (const TokenSetting& s : settings.tokens) by_id[merged.ids.at(s.token)] = &s;
  for (int64_t id = 0; id < size; ++id) {
    auto it = by_id.find(id);
    out.defaults.push_back(it != by_id.end() ? rows.configured(*it->second, id) : rows.automatic(id));
  }

  out.source_dir = models[source].dir;
  out.tokenizer_config = read_optional_json(models[source].dir / "tokenizer_config.json");
  if (!out.tokenizer_config.is_object())
    fail((models[source].dir / "tokenizer_config.json").string(), ": is not a JSON object");
  out.tokenizer_config["added_tokens_decoder"] = added_tokens_decoder(tokenizer);
  const fs::path special = models[source].dir / "special_tokens_map.json";
  std::error_code ec;
  if (fs::is_regular_file(special, ec)) out.special_tokens_map = read_json_file(special);
  out.tokenizer = std::move(tokenizer);
  return out;
}

}  // namespace alloy
