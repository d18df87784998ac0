// YamlReader: typed reading of a YAML recipe with locations. Each accessor checks a node's shape and
// throws Error "<file>:<line>: <key path>: <problem>" when it is wrong, so recipe.cpp only states
// which keys exist and what they hold. Internal to src/recipe/.
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recipe/recipe.h"

namespace alloy {

// A YAML node, the key path that reached it ("slices[0].sources[1].model") and the line to blame
// (the key's line for map values, the element's line for list elements).
struct YamlItem {
  YAML::Node node;
  std::string path;
  SourceLoc loc;
};

using YamlFields = std::map<std::string, YamlItem, std::less<>>;

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  // Parses `text`, one item per non-empty YAML document (each a map); throws "<file>:<line>: YAML
  // syntax error: ..." or "<file>: recipe is empty".
  std::vector<YamlItem> load_all(const std::string& text) const;

  [[noreturn]] void fail_at(const YamlItem& item, const std::string& problem) const;

  // Key/value pairs of a map, in document order; rejects non-maps and duplicate keys.
  std::vector<std::pair<std::string, YamlItem>> entries(const YamlItem& item) const;
  // Map entries by key; also rejects keys not in `allowed`, suggesting the closest allowed key.
  YamlFields fields(const YamlItem& item, std::span<const std::string_view> allowed) const;
  // Elements of a non-empty list.
  std::vector<YamlItem> list(const YamlItem& item) const;

  std::string string(const YamlItem& item) const;
  // A number: YAML numbers, numeric strings ("0.5"), booleans as 1/0 (as mergekit's schema does).
  double number(const YamlItem& item) const;
  int integer(const YamlItem& item) const;
  ParamValue param_value(const YamlItem& item) const;
  ParamMap param_map(const YamlItem& item) const;  // null = empty
  ModelRef model_ref(const YamlItem& item) const;

 private:
  ParamValue::Condition condition(const YamlItem& item) const;
  void model_path(const YamlItem& item, std::string& path, std::string& revision) const;

  std::string file_;
};

// The value of `key` in `fields`, or nullptr when the key is absent or its value is null.
const YamlItem* present(const YamlFields& fields, std::string_view key);

// The candidate nearest to `word` (edit distance with transpositions) when it is close enough to
// be a likely typo of it.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

// A finite number written as text, as Python's float() reads it: surrounding spaces, optional sign.
std::optional<double> parse_number(std::string_view text);

}  // namespace alloy
