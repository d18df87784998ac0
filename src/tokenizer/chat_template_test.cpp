// Chat templates: the built-in ones render the prompt formats they are named after (rendered by
// @huggingface/jinja, an engine no one here wrote, against strings written out by hand from each
// format); `auto` takes the plurality; a merge writes the template into tokenizer_config.json.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures/fixture_family.h"
#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using nlohmann::json;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

const std::filesystem::path kSourceDir = ALLOY_SOURCE_DIR;
const std::filesystem::path kJsDir = kSourceDir / "tests/js";

std::string renderer_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!std::filesystem::exists(kJsDir / "node_modules/@huggingface/jinja"))
    return "@huggingface/jinja is not installed: run `npm ci --prefix tests/js` (scripts/setup-js.sh)";
  return "";
}

std::string render(const std::string& template_text, const json& context) {
  TempDir dir;
  write_file(dir / "template.jinja", template_text);
  write_file(dir / "context.json", context.dump());
  const std::string command = "node '" + (kJsDir / "render_chat_template.mjs").string() + "' '" +
                              (dir / "template.jinja").string() + "' '" + (dir / "context.json").string() + "' > '" +
                              (dir / "out.txt").string() + "'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("the jinja renderer failed: " + command);
  return read_file(dir / "out.txt");
}

std::string builtin(const std::string& name) {
  for (const auto& t : builtin_chat_templates())
    if (name == t.name) return t.text;
  ADD_FAILURE() << "no built-in template " << name;
  return "";
}

TEST(ChatTemplate, BuiltinsAreTheFilesInDataCompiledIn) {
  std::vector<std::string> names;
  for (const auto& t : builtin_chat_templates()) {
    names.push_back(t.name);
    EXPECT_EQ(t.text, read_file(kSourceDir / "data/chat_templates" / (std::string(t.name) + ".jinja"))) << t.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpaca", "chatml", "llama3", "mistral"}));
}

TEST(ChatTemplate, BuiltinsRenderTheirPromptFormats) {
  if (auto why = renderer_missing(); !why.empty()) GTEST_SKIP() << why;
  const json context = {{"messages",
                         {{{"role", "system"}, {"content", "Be brief."}},
                          {{"role", "user"}, {"content", "Hi"}},
                          {{"role", "assistant"}, {"content", " Hello! "}},
                          {{"role", "user"}, {"content", "Bye"}}}},
                        {"bos_token", "<s>"},
                        {"eos_token", "</s>"},
                        {"add_generation_prompt", true}};
  EXPECT_EQ(render(builtin("chatml"), context),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
  // Llama 3 trims each message and ends it with <|eot_id|>; headers are followed by a blank line.
  EXPECT_EQ(render(builtin("llama3"), context),
            "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render(builtin("alpaca"), context),
            "<s>Be brief.\n\n### Instruction:\nHi\n\n### Response:\n Hello! </s>\n\n### Instruction:\nBye\n\n"
            "### Response:\n");
  // Mistral has no system role: it opens the first user turn.
  EXPECT_EQ(render(builtin("mistral"), context), "<s>[INST] Be brief.\n\nHi [/INST] Hello! </s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, SettingsAreCheckedLikeMergekit) {
  EXPECT_EQ(chat_template_problem("auto"), "");
  EXPECT_EQ(chat_template_problem("llama3"), "");
  EXPECT_EQ(chat_template_problem("{% for m in messages %}{{ m.content }}{% endfor %}"), "");
  EXPECT_NE(chat_template_problem("llama-3"), "");                  // no built-in of that name, no '{'
  EXPECT_NE(chat_template_problem("{{ messages }}"), "");           // under 20 characters
  EXPECT_NE(chat_template_problem("a long name but with no brace"), "");
}

TEST(ChatTemplate, AutoTakesTheTemplateMostModelsShare) {
  TempDir dir;
  const std::string a = "{% for m in messages %}A{{ m.content }}{% endfor %}";
  const std::string b = "{% for m in messages %}B{{ m.content }}{% endfor %}";
  for (const char* m : {"m1", "m2", "m3", "m4"}) std::filesystem::create_directories(dir / m);
  write_file(dir / "m1/chat_template.jinja", b + "\n");                         // b, from the .jinja file
  write_file(dir / "m2/tokenizer_config.json", json{{"chat_template", "  " + a}}.dump());
  write_file(dir / "m3/tokenizer_config.json",                                  // a, as a list's default
             json{{"chat_template", {{{"name", "tool_use"}, {"template", b}}, {{"name", "default"}, {"template", a}}}}}
                 .dump());
  // m4 has none.
  EXPECT_EQ(resolve_chat_template("auto", {dir / "m1", dir / "m2", dir / "m3", dir / "m4"}), a);
  EXPECT_EQ(resolve_chat_template("auto", {dir / "m1", dir / "m2", dir / "m4"}), b);  // a tie: first seen
  EXPECT_EQ(resolve_chat_template("auto", {dir / "m4"}), std::nullopt);
  EXPECT_EQ(resolve_chat_template("chatml", {}), builtin("chatml"));
  EXPECT_EQ(resolve_chat_template(a, {}), a);
}

TEST(ChatTemplate, MergeWritesItIntoTokenizerConfig) {
  TempDir dir;
  write_fixture_family(testing::small_llama(2), dir / "family");
  write_file(dir / "family/ft1/chat_template.jinja", "{{ 'a donor template the output must not keep' }}");
  const json donor_config = json::parse(read_file(dir / "family/ft1/tokenizer_config.json"));
  write_file(dir / "recipe.yml",
             "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n"
             "  - model: family/ft2\n    parameters: {weight: 1}\nchat_template: llama3\n");
  const auto merged = testing::run_alloy("merge recipe.yml out", dir.path());
  ASSERT_EQ(merged.status, 0) << merged.output;
  json expected = donor_config;
  expected["chat_template"] = read_file(kSourceDir / "data/chat_templates/llama3.jinja");
  EXPECT_EQ(json::parse(read_file(dir / "out/tokenizer_config.json")), expected);
  EXPECT_FALSE(std::filesystem::exists(dir / "out/chat_template.jinja"));

  const auto refused = testing::run_alloy("merge recipe.yml out2 --no-copy-tokenizer", dir.path());
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("recipe.yml:7: chat_template is written into the tokenizer files"), std::string::npos)
      << refused.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out2"));
}

}  // namespace
}  // namespace alloy
