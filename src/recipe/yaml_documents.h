// A recipe file's YAML documents, read by yaml-cpp without its endless loop: on a token no node
// can start with (a ',' outside [ ] / { }, for one), yaml-cpp 0.7's LoadAll makes an empty
// document without consuming the token, again and again, allocating until memory runs out.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace alloy {

// Every document of `text`; throws Error "<file>:<line>: ..." for text that is not YAML,
// including the inputs on which yaml-cpp's LoadAll would never return.
std::vector<YAML::Node> load_yaml_documents(const std::string& text, const std::string& file);

}  // namespace alloy
