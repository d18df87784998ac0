#include "tokenizer/chat_template.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

const BuiltinChatTemplate* find_builtin(const std::string& name) {
  for (const auto& t : builtin_chat_templates())
    if (name == t.name) return &t;
  return nullptr;
}

std::string builtin_names() {
  std::string names;
  for (const auto& t : builtin_chat_templates()) names += std::string(names.empty() ? "" : ", ") + t.name;
  return names;
}

std::string trim(const std::string& s) {
  const char* space = " \t\r\n";
  const size_t begin = s.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

// A model's own template, as transformers finds it: chat_template.jinja first, then
// tokenizer_config.json (a string, or a list of {name, template} whose "default" entry counts).
std::optional<std::string> model_chat_template(const fs::path& dir) {
  if (fs::exists(dir / "chat_template.jinja")) return trim(read_whole_file(dir / "chat_template.jinja", "chat template"));
  if (!fs::exists(dir / "tokenizer_config.json")) return std::nullopt;
  const nlohmann::json config = read_json_file(dir / "tokenizer_config.json");
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return trim(it->get<std::string>());
  if (it->is_array())
    for (const auto& entry : *it)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        return trim(entry["template"].get<std::string>());
  return std::nullopt;
}

}  // namespace

std::string chat_template_problem(const std::string& setting) {
  if (setting == "auto" || find_builtin(setting)) return "";
  if (setting.size() < 20 || setting.find('{') == std::string::npos)
    return cat("'", setting, "' is neither auto, a built-in template (", builtin_names(),
               ") nor a Jinja template (one has at least 20 characters and a '{')");
  return "";
}

std::optional<std::string> resolve_chat_template(const std::string& setting, const std::vector<fs::path>& model_dirs) {
  if (const auto* builtin = find_builtin(setting)) return std::string(builtin->text);
  if (setting != "auto") return setting;
  std::vector<std::pair<std::string, int>> counts;  // in order of first appearance
  for (const fs::path& dir : model_dirs) {
    const auto found = model_chat_template(dir);
    if (!found) continue;
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == *found; });
    if (it == counts.end()) counts.emplace_back(*found, 1);
    else ++it->second;
  }
  if (counts.empty()) return std::nullopt;
  // max_element returns the first of equal maxima: ties go to the template seen first.
  return std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

void write_chat_template(const fs::path& out_dir, const std::string& text) {
  const fs::path config_path = out_dir / "tokenizer_config.json";
  nlohmann::json config = fs::exists(config_path) ? read_json_file(config_path) : nlohmann::json::object();
  if (!config.is_object()) fail(config_path.string(), ": not a JSON object; cannot set its chat_template");
  config["chat_template"] = text;
  write_json_file(config_path, config);
  fs::remove(out_dir / "chat_template.jinja");
  fs::remove(out_dir / "chat_template.json");
}

}  // namespace alloy
