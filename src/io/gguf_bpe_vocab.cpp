#include "io/gguf_bpe_vocab.h"

#include <algorithm>
#include <map>

#include "io/checkpoint.h"
#include "io/gguf_vocab.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The Split regexes of Llama 3's and Qwen2's tokenizer.json (they differ in \p{N}{1,3} against
// \p{N}: digits in groups of up to three, or one by one).
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool is_type(const json& j, std::string_view type) {
  return j.is_object() && j.contains("type") && j["type"].is_string() && j["type"].get<std::string>() == type;
}

bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string shortened(const json& j) {
  std::string s = j.dump();
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

// A merge of the list format (transformers >= 4.45): the two parts joined by a space, spaces
// inside a part written as U+0120 (space + 256), as gguf-py's SpecialVocab does.
std::string merge_of_pair(const json& pair, const fs::path& file) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
    fail(file.string(), ": model.merges mixes formats (", shortened(pair), "): each merge must be \"a b\" or [\"a\", \"b\"]");
  std::string out;
  for (int part = 0; part < 2; ++part) {
    if (part) out += ' ';
    for (char c : pair[part].get<std::string>()) out += c == ' ' ? std::string("\xc4\xa0") : std::string(1, c);
  }
  return out;
}

// The first and last special tokens of a TemplateProcessing's single-sequence template.
std::optional<std::string> special_at(const json& single, size_t i) {
  const json& item = single[i];
  if (!item.is_object() || !item.contains("SpecialToken")) return std::nullopt;
  const json& s = item["SpecialToken"];
  if (!s.is_object() || !s.contains("id") || !s["id"].is_string()) return std::nullopt;
  return s["id"].get<std::string>();
}

}  // namespace

std::optional<std::string> llama_cpp_pre_tokenizer(const json& pre) {
  if (is_type(pre, "ByteLevel"))
    return flag(pre, "use_regex", true) && !flag(pre, "add_prefix_space", true) ? std::optional<std::string>("gpt-2")
                                                                               : std::nullopt;
  if (!is_type(pre, "Sequence") || !pre.contains("pretokenizers")) return std::nullopt;
  const json& parts = pre["pretokenizers"];
  if (!parts.is_array() || parts.size() != 2 || !is_type(parts[0], "Split") || !is_type(parts[1], "ByteLevel"))
    return std::nullopt;
  const json& split = parts[0];
  const json& byte_level = parts[1];
  if (flag(byte_level, "use_regex", true) || flag(byte_level, "add_prefix_space", true) || flag(split, "invert", false) ||
      split.value("behavior", std::string()) != "Isolated" || !split.contains("pattern") ||
      !split["pattern"].is_object() || !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string())
    return std::nullopt;
  const std::string regex = split["pattern"]["Regex"].get<std::string>();
  if (regex == kLlama3Regex) return "llama-bpe";
  if (regex == kQwen2Regex) return "qwen2";
  return std::nullopt;
}

GgufBpeVocab read_gguf_bpe_vocab(const fs::path& dir, size_t vocab_size, const std::string& bos, const std::string& eos) {
  const fs::path file = dir / "tokenizer.json";
  const json tok = read_json_file(file);
  const json* model = tok.is_object() && tok.contains("model") ? &tok["model"] : nullptr;
  if (!model || !is_type(*model, "BPE") || !model->contains("vocab") || !(*model)["vocab"].is_object())
    fail(file.string(), ": GGUF output writes a tokenizer.json only for a BPE model with a vocab object (model.type "
         "\"BPE\"); this one is ", model ? shortened(model->value("type", json())) : "missing",
         ": write safetensors, or give the donor a tokenizer.model");
  if (flag(*model, "byte_fallback", false))
    fail(file.string(), ": a BPE tokenizer with byte_fallback (SentencePiece style) is written by llama.cpp's converter "
         "as a \"llama\" vocabulary from tokenizer.model, which this model lacks; write safetensors instead");
  if (tok.contains("normalizer") && !tok["normalizer"].is_null())
    fail(file.string(), ": normalizer ", shortened(tok["normalizer"]), ": llama.cpp's byte-level BPE tokenizers do not "
         "normalise; alloy writes GGUF tokenizers only for tokenizer.json without a normalizer");
  GgufBpeVocab v;
  const json pre = tok.value("pre_tokenizer", json());
  const std::optional<std::string> name = llama_cpp_pre_tokenizer(pre);
  if (!name)
    fail(file.string(), ": pre_tokenizer ", shortened(pre), " has no llama.cpp name alloy can determine (it knows "
         "GPT-2's ByteLevel, and Llama 3's and Qwen2's Split regex before a ByteLevel without regex); llama.cpp's "
         "tokenizer.ggml.pre is missing: write safetensors and convert them with convert_hf_to_gguf.py");
  v.pre = *name;

  // Tokens by id: the model's vocabulary, then added tokens (which win, as in the tokenizer's
  // get_vocab); the size is config.json's vocab_size, else the number of distinct ids.
  std::map<int64_t, std::string> by_id;
  for (const auto& [token, id] : (*model)["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      fail(file.string(), ": model.vocab entry '", token, "' has id ", id.dump(), ", not a non-negative integer");
    by_id[id.get<int64_t>()] = token;
  }
  std::map<int64_t, const json*> added;
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array())
    for (const json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
          !a.contains("content") || !a["content"].is_string())
        fail(file.string(), ": added_tokens entry ", shortened(a), " lacks an integer id or a content string");
      by_id[a["id"].get<int64_t>()] = a["content"].get<std::string>();
      added[a["id"].get<int64_t>()] = &a;
    }
  if (by_id.empty()) fail(file.string(), ": the vocabulary is empty");
  const size_t size = vocab_size ? vocab_size : by_id.size();
  if (static_cast<uint64_t>(by_id.rbegin()->first) >= size)
    fail(file.string(), ": token id ", by_id.rbegin()->first, " ('", by_id.rbegin()->second, "') is not below the "
         "vocabulary size ", size, vocab_size ? " (config.json's vocab_size)" : " (the number of tokens)");
  v.tokens.resize(size);
  v.types.assign(size, static_cast<int32_t>(GgufTokenType::Unused));
  for (size_t i = 0; i < size; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (auto& [id, token] : by_id) {
    GgufTokenType type = GgufTokenType::Normal;
    if (const auto a = added.find(id); a != added.end()) {
      if (flag(*a->second, "special", false) || gguf_token_looks_special(token)) {
        type = GgufTokenType::Control;
      } else {
        type = GgufTokenType::UserDefined;
        // User-defined pieces are pre-normalised: U+2581 back to a space.
        for (size_t at = token.find("\xe2\x96\x81"); at != std::string::npos; at = token.find("\xe2\x96\x81", at + 1))
          token.replace(at, 3, " ");
      }
    }
    v.tokens[static_cast<size_t>(id)] = std::move(token);
    v.types[static_cast<size_t>(id)] = static_cast<int32_t>(type);
  }

  if (const auto m = model->find("merges"); m != model->end() && m->is_array())
    for (const json& merge : *m)
      v.merges.push_back(merge.is_string() ? merge.get<std::string>() : merge_of_pair(merge, file));

  // add_bos/add_eos from a TemplateProcessing post-processor (alone or in a Sequence).
  const json post = tok.value("post_processor", json());
  std::vector<const json*> processors;
  if (post.is_object() && post.contains("processors") && post["processors"].is_array())
    for (const json& p : post["processors"]) processors.push_back(&p);
  else if (post.is_object())
    processors.push_back(&post);
  for (const json* p : processors) {
    if (is_type(*p, "RobertaProcessing"))
      fail(file.string(), ": a RobertaProcessing post-processor is not written to GGUF by alloy; write safetensors");
    if (!is_type(*p, "TemplateProcessing") || !p->contains("single") || !(*p)["single"].is_array()) continue;
    const json& single = (*p)["single"];
    if (single.size() < 2) continue;
    if (const auto first = special_at(single, 0)) v.add_special.emplace_back("bos", *first == bos);
    if (const auto last = special_at(single, single.size() - 1)) {
      if (*last != eos)
        fail(file.string(), ": the post-processor ends every sequence with '", *last, "', not the eos_token '", eos,
             "' (llama.cpp's converter would make it the eos token); alloy does not: write safetensors");
      v.add_special.emplace_back("eos", true);
    }
  }
  return v;
}

}  // namespace alloy
