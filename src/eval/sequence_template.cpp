#include "eval/sequence_template.h"


#include "io/checkpoint.h"
#include "tokenizer/json_token_id.h"
#include "util/error.h"

namespace alloy {

std::vector<int32_t> SequenceTemplate::wrap(const std::vector<int32_t>& body) const {
  std::vector<int32_t> ids = before;
  ids.insert(ids.end(), body.begin(), body.end());
  ids.insert(ids.end(), after.begin(), after.end());
  return ids;
}

namespace {

int32_t token_pair_id(const nlohmann::json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end() || !it->is_array() || it->size() != 2)
    fail("tokenizer.json: post_processor.", key, " must be [token, id], got ", it == p.end() ? "nothing" : it->dump());
  return json_token_id((*it)[1], cat("tokenizer.json: post_processor.", key));
}

void append_template(const nlohmann::json& p, SequenceTemplate& out) {
  if (p.is_null()) return;
  if (!p.is_object()) fail("tokenizer.json: post_processor must be an object, got ", p.dump());
  const std::string type = p.contains("type") && p["type"].is_string() ? p["type"].get<std::string>() : "";
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    out.before.push_back(token_pair_id(p, "cls"));
    out.after.insert(out.after.begin(), token_pair_id(p, "sep"));
  } else if (type == "TemplateProcessing") {
    const nlohmann::json& single = p.value("single", nlohmann::json());
    if (!single.is_array()) fail("tokenizer.json: post_processor.single must be an array");
    const nlohmann::json& specials = p.value("special_tokens", nlohmann::json::object());
    bool seen_sequence = false;
    for (const nlohmann::json& piece : single) {
      if (piece.is_object() && piece.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      if (!piece.is_object() || !piece.contains("SpecialToken") || !piece["SpecialToken"].is_object() ||
          !piece["SpecialToken"].contains("id") || !piece["SpecialToken"]["id"].is_string())
        fail("tokenizer.json: post_processor.single has an element that is neither Sequence nor SpecialToken: ",
             piece.dump());
      const std::string name = piece["SpecialToken"]["id"].get<std::string>();
      auto it = specials.find(name);
      if (it == specials.end() || !it->contains("ids") || !(*it)["ids"].is_array())
        fail("tokenizer.json: post_processor.special_tokens has no ids for '", name, "'");
      for (const nlohmann::json& id : (*it)["ids"]) {
        (seen_sequence ? out.after : out.before)
            .push_back(json_token_id(id, cat("tokenizer.json: post_processor.special_tokens['", name, "'].ids")));
      }
    }
  } else if (type == "Sequence") {
    for (const nlohmann::json& inner : p.value("processors", nlohmann::json::array())) append_template(inner, out);
  }
  // ByteLevel and other processors add no token.
}

}  // namespace

SequenceTemplate template_from_post_processor(const nlohmann::json& post_processor) {
  SequenceTemplate t;
  append_template(post_processor, t);
  return t;
}

SequenceTemplate sequence_template(const std::filesystem::path& model_dir, const Tokenizer& tokenizer,
                                   EncoderFamily family) {
  const auto file = model_dir / "tokenizer.json";
  if (std::filesystem::exists(file)) {
    const nlohmann::json json = read_json_file(file);
    SequenceTemplate t;
    try {
      t = template_from_post_processor(json.value("post_processor", nlohmann::json()));
    } catch (const Error& e) {
      rethrow_with(file.string(), e);
    }
    if (!t.before.empty() || !t.after.empty()) return t;
  }
  const bool bert = family == EncoderFamily::kBert;
  const char* open = bert ? "[CLS]" : "<s>";
  const char* close = bert ? "[SEP]" : "</s>";
  const std::optional<int32_t> a = tokenizer.token_to_id(open), b = tokenizer.token_to_id(close);
  if (!a || !b)
    fail(model_dir.string(), ": the tokenizer has no post_processor adding special tokens and no ", open, "/", close,
         " tokens to put around each text");
  return SequenceTemplate{{*a}, {*b}};
}

}  // namespace alloy
