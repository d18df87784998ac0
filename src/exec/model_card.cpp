#include "exec/model_card.h"

#include <sstream>

namespace alloy {

namespace {
std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string model_card(const Recipe& recipe, const MergePlan& plan, const std::string& model_name) {
  std::ostringstream md;
  md << "---\nbase_model:\n";
  for (const auto& m : plan.models) md << "- " << yaml_quote(m.label) << "\n";
  md << "library_name: transformers\ntags:\n- merge\n- alloy\n---\n";
  md << "# " << model_name << "\n\n";
  md << "This is a merge of pre-trained language models made with alloy.\n\n";
  md << "## Merge details\n\n### Method\n\n";
  md << "This model was merged with the `" << plan.method->name << "` method (" << plan.method->summary << ")";
  if (recipe.base_model && plan.method->base != BaseUse::Ignored)
    md << ", with `" << recipe.base_model->path << "` as the base model";
  md << ".\n\n### Models merged\n\n";
  for (const auto& m : plan.models) {
    if (recipe.base_model && m.ref == *recipe.base_model && plan.method->base != BaseUse::Ignored) continue;
    md << "* `" << m.label << "`\n";
  }
  md << "\n### Configuration\n\nThe recipe (also saved as `alloy_config.yml`):\n\n```yaml\n" << recipe.source_text;
  if (!recipe.source_text.empty() && recipe.source_text.back() != '\n') md << "\n";
  md << "```\n";
  return md.str();
}

}  // namespace alloy
