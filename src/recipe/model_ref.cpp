// ModelRef string syntax: "<path>[@<revision>][+<lora>[@<revision>]]".
#include <algorithm>

#include "recipe/recipe.h"
#include "util/error.h"

namespace alloy {
namespace {

// One "+"-separated part: "<path>[@<revision>]".
void parse_part(std::string_view whole, std::string_view part, std::string& path,
                std::string& revision) {
  if (std::count(part.begin(), part.end(), '@') > 1)
    fail("Invalid model path '", part, "' - multiple @ in model reference '", whole, "'");
  size_t at = part.find('@');
  path = std::string(part.substr(0, at));
  if (at != std::string_view::npos) revision = std::string(part.substr(at + 1));
  if (path.empty()) fail("empty model path in model reference '", whole, "'");
}

}  // namespace

ModelRef ModelRef::parse(std::string_view text, SourceLoc loc) {
  ModelRef ref;
  ref.loc = loc;
  size_t plus = text.find('+');
  if (plus != std::string_view::npos && text.find('+', plus + 1) != std::string_view::npos)
    fail("Can't parse model reference '", text,
         "': expected <model>[@<revision>][+<lora>[@<revision>]] with at most one '+'");
  parse_part(text, text.substr(0, plus), ref.path, ref.revision);
  if (plus != std::string_view::npos)
    parse_part(text, text.substr(plus + 1), ref.lora_path, ref.lora_revision);
  return ref;
}

std::string ModelRef::str() const {
  std::string out = path;
  if (!revision.empty()) out += "@" + revision;
  if (!lora_path.empty()) {
    out += "+" + lora_path;
    if (!lora_revision.empty()) out += "@" + lora_revision;
  }
  return out;
}

}  // namespace alloy
