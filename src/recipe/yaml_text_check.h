// Checks of a recipe's raw text before yaml-cpp reads it: inputs that are not YAML and on which
// yaml-cpp 0.7 never returns (docs/reliability.md) are refused here, at their line.
#pragma once
#include <string>

namespace alloy {

// Throws Error "<file>:<line>: ..." for a control character other than tab and line breaks, and
// for a ',' outside [ ] / { } where a node would start (at a line's start, after a quoted
// scalar, a closed flow collection, an anchor, tag or alias, or a document marker).
void check_yaml_text(const std::string& text, const std::string& file);

}  // namespace alloy
