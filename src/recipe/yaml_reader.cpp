#include "recipe/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>

#include "recipe/yaml_documents.h"
#include "util/error.h"

namespace alloy {
namespace {

SourceLoc loc_of(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : cat(parent, ".", key);
}

// Quoted scalars ('x', "x") and explicit !!str are strings; plain scalars are typed by their look.
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

// YAML 1.1 booleans, as PyYAML (which mergekit uses) reads them.
std::optional<bool> plain_bool(const YAML::Node& node) {
  if (!node.IsScalar() || is_quoted(node)) return std::nullopt;
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  const std::string& s = node.Scalar();
  if (std::find(std::begin(kTrue), std::end(kTrue), s) != std::end(kTrue)) return true;
  if (std::find(std::begin(kFalse), std::end(kFalse), s) != std::end(kFalse)) return false;
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<long long> parse_integer(std::string_view text) {
  text = trim(text);
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// "a map", "a list", "null", or the scalar quoted, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "null";
  return cat(is_quoted(node) ? "string " : "", "\"", node.Scalar(), "\"");
}

// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions ("dtpye").
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

const YamlItem* present(const YamlFields& fields, std::string_view key) {
  auto it = fields.find(key);
  if (it == fields.end() || it->second.node.IsNull()) return nullptr;
  return &it->second;
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  size_t best_d = std::max<size_t>(1, std::min<size_t>(3, word.size() / 3)) + 1;
  for (auto c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::vector<YamlItem> YamlReader::load_all(const std::string& text) const {
  std::vector<YAML::Node> docs = load_yaml_documents(text, file_);
  // A stray "---" around a recipe makes an empty document; the others are recipes (stages).
  std::erase_if(docs, [](const YAML::Node& d) { return !d.IsDefined() || d.IsNull(); });
  if (docs.empty()) fail(file_, ": recipe is empty");
  std::vector<YamlItem> out;
  for (const YAML::Node& doc : docs) {
    YamlItem root{doc, "", loc_of(doc)};
    if (root.loc.line == 0) root.loc.line = 1;
    if (!doc.IsMap()) fail_at(root, cat("expected a map of recipe keys, got ", describe(doc)));
    out.push_back(std::move(root));
  }
  return out;
}

void YamlReader::fail_at(const YamlItem& item, const std::string& problem) const {
  std::string where = item.loc.line > 0 ? cat(file_, ":", item.loc.line) : file_;
  if (item.path.empty()) fail(where, ": ", problem);
  fail(where, ": ", item.path, ": ", problem);
}

std::vector<std::pair<std::string, YamlItem>> YamlReader::entries(const YamlItem& item) const {
  if (!item.node.IsMap()) fail_at(item, cat("expected a map, got ", describe(item.node)));
  std::vector<std::pair<std::string, YamlItem>> out;
  for (auto it = item.node.begin(); it != item.node.end(); ++it) {
    YamlItem key{it->first, item.path, loc_of(it->first)};
    if (!it->first.IsScalar()) fail_at(key, "map keys must be plain names");
    const std::string& name = it->first.Scalar();
    for (const auto& [seen, seen_item] : out)
      if (seen == name)
        fail_at(key, cat("duplicate key '", name, "' (first given at line ", seen_item.loc.line, ")"));
    out.emplace_back(name, YamlItem{it->second, join_path(item.path, name), key.loc});
  }
  return out;
}

YamlFields YamlReader::fields(const YamlItem& item, std::span<const std::string_view> allowed) const {
  YamlFields out;
  for (auto& [name, value] : entries(item)) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string problem = cat("unknown key '", name, "'");
      if (auto near = closest_match(name, allowed)) problem += cat(" (did you mean '", *near, "'?)");
      fail_at(YamlItem{value.node, item.path, value.loc}, problem);
    }
    out.emplace(name, std::move(value));
  }
  return out;
}

std::vector<YamlItem> YamlReader::list(const YamlItem& item) const {
  if (!item.node.IsSequence()) fail_at(item, cat("expected a list, got ", describe(item.node)));
  if (item.node.size() == 0) fail_at(item, "the list must not be empty");
  std::vector<YamlItem> out;
  for (size_t i = 0; i < item.node.size(); ++i) {
    YAML::Node e = item.node[i];
    SourceLoc loc = loc_of(e);
    if (loc.line == 0) loc = item.loc;
    out.push_back({e, cat(item.path, "[", i, "]"), loc});
  }
  return out;
}

std::string YamlReader::string(const YamlItem& item) const {
  if (!item.node.IsScalar()) fail_at(item, cat("expected a string, got ", describe(item.node)));
  return item.node.Scalar();
}

double YamlReader::number(const YamlItem& item) const {
  if (!item.node.IsScalar()) fail_at(item, cat("expected a number, got ", describe(item.node)));
  if (auto b = plain_bool(item.node)) return *b ? 1.0 : 0.0;
  if (auto v = parse_number(item.node.Scalar())) return *v;
  fail_at(item, cat("expected a number, got ", describe(item.node)));
}

int YamlReader::integer(const YamlItem& item) const {
  if (!item.node.IsScalar() || plain_bool(item.node))
    fail_at(item, cat("expected an integer, got ", describe(item.node)));
  auto v = parse_integer(item.node.Scalar());
  if (!v) fail_at(item, cat("expected an integer, got ", describe(item.node)));
  if (*v < INT_MIN || *v > INT_MAX) fail_at(item, cat("integer ", *v, " is out of range"));
  return static_cast<int>(*v);
}

ParamValue::Condition YamlReader::condition(const YamlItem& item) const {
  static constexpr std::string_view kKeys[] = {"filter", "value"};
  YamlFields f = fields(item, kKeys);
  auto value = f.find("value");
  if (value == f.end()) fail_at(item, "a {filter, value} entry needs a 'value'");
  ParamValue::Condition c;
  if (const YamlItem* filter = present(f, "filter")) c.filter = string(*filter);
  c.value = param_value(value->second);
  return c;
}

ParamValue YamlReader::param_value(const YamlItem& item) const {
  ParamValue p;
  p.loc = item.loc;
  const YAML::Node& n = item.node;
  if (n.IsNull()) {
    p.kind = ParamValue::Kind::Conditional;  // no entries: "not set at this level"
    return p;
  }
  if (n.IsScalar()) return ParamValue::constant(number(item), item.loc);
  if (n.IsMap()) {
    // mergekit parses a bare {filter, value} map but fails when evaluating it (QUIRK); alloy reads
    // it as a one-entry conditional list.
    p.kind = ParamValue::Kind::Conditional;
    p.conditions.push_back(condition(item));
    return p;
  }
  std::vector<YamlItem> elems = list(item);
  size_t maps = 0;
  for (const auto& e : elems) {
    if (e.node.IsSequence())
      fail_at(e, "expected a number or a {filter, value} entry, got a list (lists do not nest)");
    if (e.node.IsMap()) ++maps;
  }
  if (maps != 0 && maps != elems.size())
    fail_at(item, "a list must hold either only numbers (a gradient) or only {filter, value} "
                  "entries, not both");
  if (maps == 0) {
    p.kind = ParamValue::Kind::Gradient;
    for (const auto& e : elems) p.gradient.push_back(number(e));
  } else {
    p.kind = ParamValue::Kind::Conditional;
    for (const auto& e : elems) p.conditions.push_back(condition(e));
  }
  return p;
}

ParamMap YamlReader::param_map(const YamlItem& item) const {
  ParamMap out;
  if (item.node.IsNull()) return out;
  for (const auto& [name, value] : entries(item)) out.emplace(name, param_value(value));
  return out;
}

void YamlReader::model_path(const YamlItem& item, std::string& path, std::string& revision) const {
  if (item.node.IsScalar()) {
    ModelRef ref;
    try {
      ref = ModelRef::parse(item.node.Scalar(), item.loc);
    } catch (const Error& e) {
      fail_at(item, e.what());
    }
    if (ref.has_lora()) fail_at(item, "a LoRA adapter goes in the 'lora' key, not after '+'");
    path = ref.path;
    revision = ref.revision;
    return;
  }
  static constexpr std::string_view kKeys[] = {"path", "revision"};
  YamlFields f = fields(item, kKeys);
  const YamlItem* p = present(f, "path");
  if (!p) fail_at(item, "missing required key 'path'");
  path = string(*p);
  if (path.empty()) fail_at(*p, "the path must not be empty");
  if (const YamlItem* r = present(f, "revision")) revision = string(*r);
}

ModelRef YamlReader::model_ref(const YamlItem& item) const {
  if (item.node.IsScalar()) {
    try {
      return ModelRef::parse(item.node.Scalar(), item.loc);
    } catch (const Error& e) {
      fail_at(item, e.what());
    }
  }
  if (!item.node.IsMap())
    fail_at(item, cat("expected a model reference (a string or a map), got ", describe(item.node)));
  static constexpr std::string_view kKeys[] = {"model", "lora", "override_architecture"};
  YamlFields f = fields(item, kKeys);
  ModelRef ref;
  ref.loc = item.loc;
  const YamlItem* model = present(f, "model");
  if (!model) fail_at(item, "missing required key 'model'");
  model_path(*model, ref.path, ref.revision);
  if (const YamlItem* lora = present(f, "lora")) model_path(*lora, ref.lora_path, ref.lora_revision);
  if (const YamlItem* arch = present(f, "override_architecture"))
    ref.override_architecture = string(*arch);
  return ref;
}

}  // namespace alloy
