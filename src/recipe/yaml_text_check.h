// Checks of a recipe's raw text before yaml-cpp reads it: control characters, and the commas
// yaml-cpp 0.7 would loop on, refused at their line with a message that says what to do
// (yaml_documents.h stops the loop itself for any input this check lets through).
#pragma once
#include <string>

namespace alloy {

// Throws Error "<file>:<line>: ..." for a control character other than tab and line breaks, and
// for a ',' outside [ ] / { } where a node would start (at a line's start, after a quoted
// scalar, a closed flow collection, an anchor, tag or alias, or a document marker).
void check_yaml_text(const std::string& text, const std::string& file);

}  // namespace alloy
