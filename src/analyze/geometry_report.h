// The report of `alloy analyze`: a text table (per layer, per tensor kind, the whole model, then
// the advice) and one JSON object with the same numbers. Model columns are lettered A, B, C, ...
// in the table, with a key naming each model; pairs follow model_pairs() order.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/analyze_models.h"

namespace alloy {

// "A", "B", ..., "Z", then "M27", "M28", ...
std::string model_letter(int index);
// Short names for the models: each path's last component, or the whole path where two share one.
std::vector<std::string> short_model_names(const std::vector<std::string>& paths);

std::string geometry_table(const GeometryReport& report);

// {"base", "models", "pairs": [[i, j], ...], "layers": [group], "kinds": [group], "model": group,
//  "skipped": [name], "advice": {"method", "density", "mean_cosine", "conflict", "text"}}
// group: {"label", "tensors", "elements", "norms": [per model], "cosines": [per pair, null = n/a],
//         "pair_conflicts": [per pair, null = n/a], "conflict": pooled over pairs or null,
//         "mixed_signs": share or null}
nlohmann::json geometry_json(const GeometryReport& report);

}  // namespace alloy
