#include "tokenizer/pre_tokenizer.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex_split.h"
#include "util/error.h"

namespace alloy {
namespace {

using Word = std::vector<std::string>;

// Applies `step` to each word and concatenates what it gives.
template <class Step>
PreTokenizer per_word(Step step) {
  return [step](Word words, bool) {
    Word out;
    for (const auto& word : words)
      for (auto& piece : step(word)) out.push_back(std::move(piece));
    return out;
  };
}

SplitBehavior behavior_named(const std::string& name, const std::string& file) {
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  fail(file, ": split behavior '", name, "' is unknown");
}

// BERT's punctuation: Unicode P* and every ASCII symbol that is not a letter, digit or space.
constexpr const char* kBertPunctuation = R"(\p{P}\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E})";

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& file) {
  if (spec.is_null()) return [](Word words, bool) { return words; };
  const std::string type = spec.value("type", "");
  if (type == "Sequence") {
    std::vector<PreTokenizer> steps;
    for (const auto& step : spec.at("pretokenizers")) steps.push_back(make_pre_tokenizer(step, file));
    return [steps](Word words, bool first_section) {
      for (const auto& step : steps) words = step(std::move(words), first_section);
      return words;
    };
  }
  if (type == "ByteLevel") {
    const bool prefix_space = spec.value("add_prefix_space", true), use_regex = spec.value("use_regex", true);
    auto gpt2 = std::make_shared<Regex>(kGpt2SplitPattern);
    return per_word([=](const std::string& word) {
      const std::string text = prefix_space && (word.empty() || word[0] != ' ') ? " " + word : word;
      Word pieces = use_regex ? split(text, *gpt2, SplitBehavior::isolated) : Word{text};
      for (auto& piece : pieces) piece = bytes_to_unicode(piece);
      return pieces;
    });
  }
  if (type == "Split") {
    const auto& pattern = spec.at("pattern");
    const bool literal = pattern.contains("String");
    auto regex = std::make_shared<Regex>(pattern.at(literal ? "String" : "Regex").get<std::string>(), literal);
    const auto behavior = behavior_named(spec.at("behavior").get<std::string>(), file);
    const bool invert = spec.value("invert", false);
    return per_word([=](const std::string& word) { return split(word, *regex, behavior, invert); });
  }
  if (type == "BertPreTokenizer") {
    auto words = std::make_shared<Regex>(cat(R"([^\s)", kBertPunctuation, "]+|[", kBertPunctuation, "]"));
    return per_word([=](const std::string& word) { return split(word, *words, SplitBehavior::removed, true); });
  }
  if (type == "Whitespace") {
    auto words = std::make_shared<Regex>(R"(\w+|[^\w\s]+)");
    return per_word([=](const std::string& word) { return split(word, *words, SplitBehavior::removed, true); });
  }
  if (type == "WhitespaceSplit") {
    auto space = std::make_shared<Regex>(R"(\s+)");
    return per_word([=](const std::string& word) { return split(word, *space, SplitBehavior::removed); });
  }
  if (type == "Digits") {
    const bool individual = spec.value("individual_digits", false);
    auto digits = std::make_shared<Regex>(individual ? R"(\p{N})" : R"(\p{N}+)");
    return per_word([=](const std::string& word) { return split(word, *digits, SplitBehavior::isolated); });
  }
  if (type == "Metaspace") {
    // Spaces become the replacement (▁), one is prefixed where the word lacks it (prepend_scheme
    // "always", or "first" at the start of the input; older files say add_prefix_space), and with
    // split each ▁ starts a new word.
    const std::string replacement = spec.value("replacement", "\u2581");
    const std::string scheme =
        spec.value("prepend_scheme", spec.value("add_prefix_space", true) ? std::string("always") : std::string("never"));
    if (scheme != "always" && scheme != "first" && scheme != "never")
      fail(file, ": Metaspace prepend_scheme '", scheme, "' is unknown");
    const bool split_words = spec.value("split", true);
    auto marker = std::make_shared<Regex>(replacement, true);
    return [=](Word words, bool first_section) {
      Word out;
      for (const auto& word : words) {
        std::string text;
        for (char c : word) c == ' ' ? text += replacement : text += c;
        if ((scheme == "always" || (scheme == "first" && first_section)) && text.rfind(replacement, 0) != 0)
          text = replacement + text;
        for (auto& piece : split_words ? split(text, *marker, SplitBehavior::merged_with_next) : Word{text})
          out.push_back(std::move(piece));
      }
      return out;
    };
  }
  fail(file, ": pre-tokenizer type '", type, "' is not supported (supported: ByteLevel, Split, BertPreTokenizer, ",
       "Whitespace, WhitespaceSplit, Digits, Metaspace, Sequence)");
}

}  // namespace alloy
