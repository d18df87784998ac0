// Chat templates for a merge's output (mergekit's `chat_template:`): a built-in name, `auto` (the
// template most of the input models share) or a literal Jinja template, written into the output's
// tokenizer_config.json.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace alloy {

struct BuiltinChatTemplate {
  const char* name;
  const char* text;
};
// data/chat_templates/*.jinja, compiled in; sorted by name.
const std::vector<BuiltinChatTemplate>& builtin_chat_templates();

// Checks a recipe's chat_template value: "auto", a built-in name, or a literal Jinja template (at
// least 20 characters with a '{', mergekit's rule for telling a literal from a misspelt name).
// Returns an empty string when valid, else what is wrong.
std::string chat_template_problem(const std::string& setting);

// The template a recipe's setting selects. `auto`: each model directory's template
// (chat_template.jinja, else tokenizer_config.json's chat_template, a list's "default" entry),
// whitespace-trimmed; the most common one, ties to the first seen; nullopt when no model has one.
std::optional<std::string> resolve_chat_template(const std::string& setting,
                                                 const std::vector<std::filesystem::path>& model_dirs);

// Sets tokenizer_config.json's chat_template in `out_dir` (creating the file when the donor had
// none) and removes chat_template.jinja / chat_template.json copied from the donor, which
// transformers would read instead.
void write_chat_template(const std::filesystem::path& out_dir, const std::string& text);

}  // namespace alloy
