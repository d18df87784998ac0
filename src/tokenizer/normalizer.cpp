#include "tokenizer/normalizer.h"

#include <nlohmann/json.hpp>

#include "tokenizer/regex_split.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace alloy {

std::string bert_normalize(const std::string& text, bool clean_text, bool handle_chinese_chars,
                           bool strip, bool lower) {
  std::string out;
  for (char32_t c : code_points(text)) {
    if (clean_text) {
      const bool whitespace = c == U'\t' || c == U'\n' || c == U'\r' || is_white_space(c);
      if (c == 0 || c == 0xFFFD || (!whitespace && is_other(c))) continue;
      if (whitespace) c = U' ';
    }
    if (handle_chinese_chars && is_cjk_ideograph(c)) {
      out += ' ';
      append_utf8(out, c);
      out += ' ';
    } else {
      append_utf8(out, c);
    }
  }
  if (strip) out = strip_accents(out);
  if (lower) out = lowercase(out);
  return out;
}

namespace {

std::string trim(const std::string& text, bool left, bool right) {
  const auto points = code_points(text);
  size_t begin = 0, end = points.size();
  while (left && begin < end && is_white_space(points[begin])) ++begin;
  while (right && end > begin && is_white_space(points[end - 1])) --end;
  return to_utf8(std::u32string_view(points).substr(begin, end - begin));
}

std::string replace_all(const std::string& text, const Regex& pattern, const std::string& content) {
  std::string out;
  size_t at = 0;
  for (auto [begin, end] : pattern.find_all(text)) {
    out.append(text, at, begin - at);
    out += content;
    at = end;
  }
  out.append(text, at);
  return out;
}

}  // namespace

Normalizer make_normalizer(const nlohmann::json& spec, const std::string& file) {
  if (spec.is_null()) return [](const std::string& text) { return text; };
  const std::string type = spec.value("type", "");
  if (type == "Sequence") {
    std::vector<Normalizer> steps;
    for (const auto& step : spec.at("normalizers")) steps.push_back(make_normalizer(step, file));
    return [steps](const std::string& text) {
      std::string out = text;
      for (const auto& step : steps) out = step(out);
      return out;
    };
  }
  if (type == "BertNormalizer") {
    const bool lower = spec.value("lowercase", true);
    // strip_accents null follows lowercase, as in BERT's uncased models.
    const bool strip = spec.contains("strip_accents") && !spec["strip_accents"].is_null()
                           ? spec["strip_accents"].get<bool>()
                           : lower;
    const bool clean = spec.value("clean_text", true), chinese = spec.value("handle_chinese_chars", true);
    return [=](const std::string& text) { return bert_normalize(text, clean, chinese, strip, lower); };
  }
  if (type == "Lowercase") return [](const std::string& text) { return lowercase(text); };
  if (type == "StripAccents") return [](const std::string& text) { return strip_accents(text); };
  if (type == "NFC") return [](const std::string& text) { return normalize(text, NormalForm::nfc); };
  if (type == "NFD") return [](const std::string& text) { return normalize(text, NormalForm::nfd); };
  if (type == "NFKC") return [](const std::string& text) { return normalize(text, NormalForm::nfkc); };
  if (type == "NFKD") return [](const std::string& text) { return normalize(text, NormalForm::nfkd); };
  if (type == "Prepend") {
    const std::string prefix = spec.at("prepend").get<std::string>();
    return [prefix](const std::string& text) { return text.empty() ? text : prefix + text; };
  }
  if (type == "Strip") {
    const bool left = spec.value("strip_left", true), right = spec.value("strip_right", true);
    return [=](const std::string& text) { return trim(text, left, right); };
  }
  if (type == "Replace") {
    const auto& pattern = spec.at("pattern");
    const bool literal = pattern.contains("String");
    auto regex = std::make_shared<Regex>(pattern.at(literal ? "String" : "Regex").get<std::string>(), literal);
    const std::string content = spec.at("content").get<std::string>();
    return [regex, content](const std::string& text) { return replace_all(text, *regex, content); };
  }
  fail(file, ": normalizer type '", type, "' is not supported (supported: BertNormalizer, Lowercase, StripAccents, ",
       "NFC, NFD, NFKC, NFKD, Replace, Prepend, Strip, Sequence)");
}

}  // namespace alloy
