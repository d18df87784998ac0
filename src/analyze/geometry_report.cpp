#include "analyze/geometry_report.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "analyze/merge_advice.h"

namespace alloy {
namespace {

using nlohmann::json;

std::string format(const char* spec, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string cosine_text(const std::optional<double>& c) { return c ? format("%+.3f", *c) : "n/a"; }
std::string share_text(const std::optional<double>& s) { return s ? format("%.1f%%", 100 * *s) : "n/a"; }

std::string pad(const std::string& s, size_t width, bool left) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

// One table: a header and a line per group, columns right-aligned to their widest cell.
void add_table(std::string& out, const std::string& first_column, const std::vector<const GroupGeometry*>& groups,
               int models) {
  const auto pairs = model_pairs(models);
  std::vector<std::string> header{first_column};
  for (int m = 0; m < models; ++m) header.push_back("|" + model_letter(m) + "|");
  for (auto [i, j] : pairs) header.push_back("cos " + model_letter(i) + model_letter(j));
  header.push_back("conflict");
  std::vector<std::vector<std::string>> rows{header};
  for (const GroupGeometry* g : groups) {
    std::vector<std::string> row{g->label};
    for (double n : norms(g->sums)) row.push_back(format("%.4g", n));
    for (const auto& c : cosines(g->sums)) row.push_back(cosine_text(c));
    row.push_back(share_text(conflict_share(g->sums)));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) line += (c ? "  " : "") + pad(r[c], width[c], c == 0);
    out += line + "\n";
  }
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json group_json(const GroupGeometry& g) {
  json cos = json::array(), conflicts = json::array();
  for (const auto& c : cosines(g.sums)) cos.push_back(optional_number(c));
  for (const auto& c : pair_conflicts(g.sums)) conflicts.push_back(optional_number(c));
  return {{"label", g.label},       {"tensors", g.tensors},         {"elements", g.sums.elements},
          {"norms", norms(g.sums)}, {"cosines", cos},               {"pair_conflicts", conflicts},
          {"conflict", optional_number(conflict_share(g.sums))},
          {"mixed_signs", optional_number(mixed_sign_share(g.sums))}};
}

}  // namespace

std::string model_letter(int index) {
  if (index < 26) return std::string(1, static_cast<char>('A' + index));
  return "M" + std::to_string(index + 1);
}

std::vector<std::string> short_model_names(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  std::map<std::string, int> uses;
  for (const auto& p : paths) {
    std::filesystem::path path(p);
    while (!path.empty() && path.filename().empty()) path = path.parent_path();  // "dir/" names dir
    names.push_back(path.filename().string().empty() ? p : path.filename().string());
    ++uses[names.back()];
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (uses[names[i]] > 1) names[i] = paths[i];
  return names;
}

std::string geometry_table(const GeometryReport& r) {
  const int models = static_cast<int>(r.models.size());
  std::string out = "task vectors (model - base) against " + r.base + ": " + std::to_string(r.whole.tensors) +
                    " tensors, " + std::to_string(r.whole.sums.elements) + " elements per model\n";
  for (int m = 0; m < models; ++m) out += "  " + model_letter(m) + " = " + r.models[m] + "\n";
  if (!r.skipped.empty()) {
    out += "  not analysed (not float):";
    for (const auto& s : r.skipped) out += " " + s;
    out += "\n";
  }
  out += "\nby layer (|X| = norm of X's task vector, cos XY = cosine, conflict = sign conflict)\n";
  std::vector<const GroupGeometry*> groups;
  for (const auto& g : r.layers) groups.push_back(&g);
  groups.push_back(&r.whole);
  add_table(out, "layer", groups, models);
  out += "\nby tensor kind\n";
  groups.clear();
  for (const auto& g : r.kinds) groups.push_back(&g);
  groups.push_back(&r.whole);
  add_table(out, "kind", groups, models);
  if (models >= 2) {
    out += "\nsign conflict by pair (whole model):";
    const auto pairs = model_pairs(models);
    const auto conflicts = pair_conflicts(r.whole.sums);
    for (size_t p = 0; p < pairs.size(); ++p)
      out += "  " + model_letter(pairs[p].first) + model_letter(pairs[p].second) + " " + share_text(conflicts[p]);
    out += "\nelements whose non-zero task-vector values have mixed signs (whole model): " +
           share_text(mixed_sign_share(r.whole.sums)) + "\n";
  }
  out += "\nadvice: " + merge_advice(r.whole.sums).text + "\n";
  return out;
}

json geometry_json(const GeometryReport& r) {
  json pairs = json::array();
  for (auto [i, j] : model_pairs(static_cast<int>(r.models.size()))) pairs.push_back({i, j});
  json layers = json::array(), kinds = json::array();
  for (const auto& g : r.layers) layers.push_back(group_json(g));
  for (const auto& g : r.kinds) kinds.push_back(group_json(g));
  const MergeAdvice a = merge_advice(r.whole.sums);
  json advice = {{"method", a.method},
                 {"density", optional_number(a.density)},
                 {"mean_cosine", optional_number(a.mean_cosine)},
                 {"conflict", optional_number(a.conflict)},
                 {"text", a.text}};
  return {{"base", r.base},       {"models", r.models},         {"pairs", pairs},
          {"layers", layers},     {"kinds", kinds},             {"model", group_json(r.whole)},
          {"skipped", r.skipped}, {"advice", advice}};
}

}  // namespace alloy
