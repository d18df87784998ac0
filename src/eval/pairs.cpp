#include "eval/pairs.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace alloy {

std::vector<TextPair> read_pairs(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read pairs file ", file.string());
  std::vector<TextPair> pairs;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = cat(file.string(), ":", number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(where, ": not valid JSON (", e.what(), ")");
    }
    if (!object.is_object()) fail(where, ": expected an object {\"query\": ..., \"positive\": ...}");
    TextPair pair;
    for (auto [key, field] : {std::pair{"query", &pair.query}, std::pair{"positive", &pair.positive}}) {
      auto it = object.find(key);
      if (it == object.end()) fail(where, ": no \"", key, "\" field");
      if (!it->is_string()) fail(where, ": \"", key, "\" must be a string, got ", it->dump());
      *field = it->get<std::string>();
    }
    pairs.push_back(std::move(pair));
  }
  if (in.bad()) fail("cannot read pairs file ", file.string());
  if (pairs.empty()) fail(file.string(), ": no pair in the file (one {\"query\", \"positive\"} object per line)");
  return pairs;
}

}  // namespace alloy
