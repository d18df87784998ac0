#include "eval/eval_report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace alloy {

double PerplexityCell::mean_nll() const {
  return tokens > 0 ? nll_sum / static_cast<double>(tokens) : std::numeric_limits<double>::quiet_NaN();
}

double PerplexityCell::ppl() const { return std::exp(mean_nll()); }

std::optional<double> EvalReport::ratio_to_specialists(size_t model) const {
  if (specialists.empty()) return std::nullopt;
  double log_sum = 0;
  for (auto [text, specialist] : specialists)
    log_sum += at(model, text).mean_nll() - at(specialist, text).mean_nll();
  return std::exp(log_sum / static_cast<double>(specialists.size()));
}

namespace {

std::string format_ppl(double ppl) {
  char buf[32];
  if (!std::isfinite(ppl)) return "n/a";
  if (ppl >= 1e6) std::snprintf(buf, sizeof buf, "%.3g", ppl);
  else if (ppl >= 100) std::snprintf(buf, sizeof buf, "%.1f", ppl);
  else std::snprintf(buf, sizeof buf, "%.3f", ppl);
  return buf;
}

void pad_to(std::string& line, size_t width, const std::string& cell, bool right) {
  size_t fill = cell.size() < width ? width - cell.size() : 0;
  if (right) line.append(fill, ' ');
  line += cell;
  if (!right) line.append(fill, ' ');
}

}  // namespace

std::string eval_table(const EvalReport& r) {
  std::vector<std::string> header{"model"};
  for (const auto& t : r.texts) header.push_back(std::filesystem::path(t).filename().string());
  const bool ratio = !r.specialists.empty();
  if (ratio) header.push_back("vs specialists");
  std::vector<std::vector<std::string>> rows{header};
  for (size_t m = 0; m < r.models.size(); ++m) {
    std::vector<std::string> row{r.models[m]};
    for (size_t t = 0; t < r.texts.size(); ++t) row.push_back(format_ppl(r.at(m, t).ppl()));
    if (ratio) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", *r.ratio_to_specialists(m));
      row.push_back(buf);
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c) line += "  ";
      pad_to(line, width[c], row[c], c > 0);
    }
    out += line + "\n";
  }
  return out;
}

nlohmann::json eval_json(const EvalReport& r) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t m = 0; m < r.models.size(); ++m)
    for (size_t t = 0; t < r.texts.size(); ++t) {
      const PerplexityCell& c = r.at(m, t);
      results.push_back({{"model", r.models[m]}, {"text", r.texts[t]}, {"ppl", c.ppl()},
                         {"nll", c.mean_nll()}, {"tokens", c.tokens}});
    }
  nlohmann::json out{{"results", results}};
  if (!r.specialists.empty()) {
    nlohmann::json ratios = nlohmann::json::object();
    for (size_t m = 0; m < r.models.size(); ++m) ratios[r.models[m]] = *r.ratio_to_specialists(m);
    out["ratio_to_specialists"] = ratios;
  }
  return out;
}

}  // namespace alloy
