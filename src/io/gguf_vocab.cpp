#include "io/gguf_vocab.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <fstream>

#include "io/checkpoint.h"
#include "io/gguf_bpe_vocab.h"
#include "io/gguf_writer.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  void set(size_t id, std::string token, float score, GgufTokenType type) {
    tokens[id] = std::move(token);
    scores[id] = score;
    types[id] = static_cast<int32_t>(type);
  }
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::optional<nlohmann::json> json_if_present(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return read_json_file(p);
}

// _create_vocab_sentencepiece: the model's pieces, padded to config's vocab_size with [PADi]
// (unused), then added_tokens.json and tokenizer_config.json's added_tokens_decoder on top.
Vocab sentencepiece_vocab(const fs::path& dir, const nlohmann::json& config) {
  const fs::path model = dir / "tokenizer.model";
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.LoadFromSerializedProto(read_whole_file(model, "SentencePiece model"));
  if (!status.ok()) fail(model.string(), ": not a SentencePiece model: ", status.ToString());
  const int pieces = sp.GetPieceSize();
  size_t size = static_cast<size_t>(pieces);
  if (const auto it = config.find("vocab_size"); it != config.end() && it->is_number_integer() && it->get<int64_t>() > 0)
    size = it->get<size_t>();
  Vocab v;
  v.tokens.resize(size);
  v.scores.assign(size, -10000.0f);
  v.types.assign(size, static_cast<int32_t>(GgufTokenType::Unused));
  for (size_t i = 0; i < size; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (int id = 0; id < pieces && static_cast<size_t>(id) < size; ++id) {
    GgufTokenType type = GgufTokenType::Normal;
    if (sp.IsUnknown(id))
      type = GgufTokenType::Unknown;
    else if (sp.IsControl(id))
      type = GgufTokenType::Control;
    else if (sp.IsUnused(id))
      type = GgufTokenType::Unused;
    else if (sp.IsByte(id))
      type = GgufTokenType::Byte;
    v.set(static_cast<size_t>(id), sp.IdToPiece(id), sp.GetScore(id), type);
  }
  if (auto added = json_if_present(dir / "added_tokens.json"))
    for (const auto& [text, id] : added->items())
      if (id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<size_t>() < size)
        v.set(id.get<size_t>(), text, -1000.0f, GgufTokenType::UserDefined);
  if (auto tc = json_if_present(dir / "tokenizer_config.json"))
    if (const auto it = tc->find("added_tokens_decoder"); it != tc->end() && it->is_object())
      for (const auto& [key, data] : it->items()) {
        size_t id = 0;
        try {
          id = std::stoul(key);
        } catch (const std::exception&) {
          fail((dir / "tokenizer_config.json").string(), ": added_tokens_decoder key '", key, "' is not a token id");
        }
        if (id >= size || !data.is_object() || !data.contains("content") || !data["content"].is_string()) continue;
        std::string token = data["content"].get<std::string>();
        const bool special = data.value("special", false) || gguf_token_looks_special(token);
        // User-defined pieces are pre-normalised: U+2581 back to a space.
        if (!special) token = replace_all(token, "\xe2\x96\x81", " ");
        v.set(id, token, -1000.0f, special ? GgufTokenType::Control : GgufTokenType::UserDefined);
      }
  return v;
}

const char* const kSpecialTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
// Keys of the types llama.cpp's writer has a handler for (cls has none: the converter skips it).
std::optional<std::string> special_id_key(std::string_view type) {
  if (type == "bos") return "tokenizer.ggml.bos_token_id";
  if (type == "eos") return "tokenizer.ggml.eos_token_id";
  if (type == "unk") return "tokenizer.ggml.unknown_token_id";
  if (type == "sep") return "tokenizer.ggml.seperator_token_id";  // llama.cpp's spelling
  if (type == "pad") return "tokenizer.ggml.padding_token_id";
  if (type == "mask") return "tokenizer.ggml.mask_token_id";
  return std::nullopt;
}

// gguf-py's SpecialVocab after its merges: special ids from tokenizer.json's added tokens named by
// tokenizer_config.json, then config.json's <type>_token_id; the add_<type>_token flags (`add`:
// those tokenizer.json's post-processor implies, which tokenizer_config.json's override); the chat
// template.
void append_special_vocab(std::vector<GgufKeyValue>& md, const fs::path& dir, const nlohmann::json& config,
                          size_t n_vocab, std::vector<std::pair<std::string, bool>> add,
                          const std::optional<std::string>& chat_template) {
  std::vector<std::pair<std::string, int64_t>> ids;  // discovery order, as the converter's dict
  auto set_id = [&](const std::string& type, const nlohmann::json* id) {
    if (!id || !id->is_number_integer()) return;
    const int64_t v = id->get<int64_t>();
    if (v < 0) fail(dir.string(), ": special token ", type, " has the negative id ", v);
    if (static_cast<uint64_t>(v) >= n_vocab) return;
    for (const auto& [t, _] : ids)
      if (t == type) return;
    ids.emplace_back(type, v);
  };
  const std::optional<nlohmann::json> tokenizer = json_if_present(dir / "tokenizer.json");
  const std::optional<nlohmann::json> tc = json_if_present(dir / "tokenizer_config.json");
  std::optional<std::string> template_text;
  if (tc && tc->is_object()) {
    if (auto it = tc->find("chat_template"); it != tc->end() && it->is_string()) template_text = it->get<std::string>();
    nlohmann::json added = nlohmann::json::array();
    if (tokenizer && tokenizer->contains("added_tokens")) added = (*tokenizer)["added_tokens"];
    for (const char* type : kSpecialTypes) {
      if (auto it = tc->find(std::string("add_") + type + "_token"); it != tc->end() && it->is_boolean()) {
        const auto known = std::find_if(add.begin(), add.end(), [&](const auto& a) { return a.first == type; });
        if (known != add.end())
          known->second = it->get<bool>();
        else
          add.emplace_back(type, it->get<bool>());
      }
      const auto entry = tc->find(std::string(type) + "_token");
      if (entry == tc->end()) continue;
      std::string content;
      if (entry->is_string())
        content = entry->get<std::string>();
      else if (entry->is_object() && entry->contains("content") && (*entry)["content"].is_string())
        content = (*entry)["content"].get<std::string>();
      else
        continue;
      for (const auto& token : added)
        if (token.is_object() && token.value("content", std::string()) == content) {
          set_id(type, token.contains("id") ? &token["id"] : nullptr);
          break;
        }
    }
  }
  if (!template_text) {
    std::error_code ec;
    if (fs::is_regular_file(dir / "chat_template.jinja", ec))
      template_text = read_whole_file(dir / "chat_template.jinja", "chat template");
    else if (auto ct = json_if_present(dir / "chat_template.json"); ct && ct->contains("chat_template") &&
                                                                   (*ct)["chat_template"].is_string())
      template_text = (*ct)["chat_template"].get<std::string>();
  }
  for (const char* type : kSpecialTypes) set_id(type, config.contains(std::string(type) + "_token_id")
                                                          ? &config[std::string(type) + "_token_id"]
                                                          : nullptr);
  for (const auto& [type, id] : ids)
    if (auto key = special_id_key(type)) gguf_set(md, *key, gguf_u32(static_cast<uint32_t>(id)));
  for (const auto& [type, value] : add)
    if (type == "bos" || type == "eos" || type == "sep") gguf_set(md, "tokenizer.ggml.add_" + type + "_token", gguf_bool(value));
  if (chat_template) template_text = chat_template;
  if (template_text) gguf_set(md, "tokenizer.chat_template", gguf_string_value(*template_text));
}

}  // namespace

bool gguf_token_looks_special(const std::string& t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<unused", ">");
}

void append_gguf_vocab(std::vector<GgufKeyValue>& metadata, const fs::path& dir, const nlohmann::json& config,
                       const std::optional<std::string>& chat_template) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "tokenizer.model", ec)) {
    if (!fs::is_regular_file(dir / "tokenizer.json", ec))
      fail(dir.string(), ": no tokenizer.model or tokenizer.json: GGUF output needs the donor model's tokenizer (pass "
           "--no-copy-tokenizer to write a GGUF without one)");
    // _set_vocab_gpt2: no scores; SpecialVocab writes the merges first.
    const std::optional<nlohmann::json> tc = json_if_present(dir / "tokenizer_config.json");
    const auto content = [&](const char* key) {
      if (!tc || !tc->is_object() || !tc->contains(key)) return std::string();
      const nlohmann::json& t = (*tc)[key];
      if (t.is_string()) return t.get<std::string>();
      return t.is_object() && t.contains("content") && t["content"].is_string() ? t["content"].get<std::string>()
                                                                                : std::string();
    };
    size_t vocab_size = 0;
    if (const auto it = config.find("vocab_size"); it != config.end() && it->is_number_integer() && it->get<int64_t>() > 0)
      vocab_size = it->get<size_t>();
    GgufBpeVocab v = read_gguf_bpe_vocab(dir, vocab_size, content("bos_token"), content("eos_token"));
    const size_t n = v.tokens.size();
    gguf_set(metadata, "tokenizer.ggml.model", gguf_string_value("gpt2"));
    gguf_set(metadata, "tokenizer.ggml.pre", gguf_string_value(v.pre));
    gguf_set(metadata, "tokenizer.ggml.tokens", gguf_string_array(std::move(v.tokens)));
    gguf_set(metadata, "tokenizer.ggml.token_type", gguf_i32_array(v.types));
    if (!v.merges.empty()) gguf_set(metadata, "tokenizer.ggml.merges", gguf_string_array(std::move(v.merges)));
    append_special_vocab(metadata, dir, config, n, std::move(v.add_special), chat_template);
    return;
  }
  Vocab v = sentencepiece_vocab(dir, config);
  const size_t n = v.tokens.size();
  gguf_set(metadata, "tokenizer.ggml.model", gguf_string_value("llama"));
  gguf_set(metadata, "tokenizer.ggml.pre", gguf_string_value("default"));
  gguf_set(metadata, "tokenizer.ggml.tokens", gguf_string_array(std::move(v.tokens)));
  gguf_set(metadata, "tokenizer.ggml.scores", gguf_f32_array(v.scores));
  gguf_set(metadata, "tokenizer.ggml.token_type", gguf_i32_array(v.types));
  append_special_vocab(metadata, dir, config, n, {}, chat_template);
}

}  // namespace alloy
