// The README.md model card written beside a merged model: YAML front matter (base_model, tags,
// library_name) for model hubs, then the method, the models and the recipe itself.
#pragma once
#include <string>

#include "plan/merge_plan.h"

namespace alloy {

std::string model_card(const Recipe& recipe, const MergePlan& plan, const std::string& model_name);

}  // namespace alloy
