// The perplexity matrix of `alloy eval` (rows: models, columns: texts) as a table for people and
// JSON for scripts, with the figure of merit for merges: the geometric mean over the domains of
// PPL(model) / PPL(that domain's specialist).
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace alloy {

struct PerplexityCell {
  double nll_sum = 0;  // summed over the scored tokens
  int64_t tokens = 0;  // tokens scored
  double mean_nll() const;
  double ppl() const;
};

struct EvalReport {
  std::vector<std::string> models;  // paths as given
  std::vector<std::string> texts;   // paths as given
  std::vector<PerplexityCell> cells;  // models.size() x texts.size(), row-major
  // Text index -> model index of that domain's specialist (the fine-tune trained on it).
  std::map<size_t, size_t> specialists;

  const PerplexityCell& at(size_t model, size_t text) const { return cells[model * texts.size() + text]; }
  // exp(mean over the specialists' texts of log(PPL(model, text) / PPL(specialist, text)));
  // nullopt when no specialist is named.
  std::optional<double> ratio_to_specialists(size_t model) const;
};

// Fixed-width table; texts are headed by their file names, models by their paths.
std::string eval_table(const EvalReport& report);
// {"results": [{"model", "text", "ppl", "nll", "tokens"}, ...]} plus, with specialists,
// {"ratio_to_specialists": {"<model>": <float>, ...}}.
nlohmann::json eval_json(const EvalReport& report);

}  // namespace alloy
