// Everything a strategy needs, prepared from a recipe file: the recipe (relative paths that only
// resolve beside it made absolute, so the tuned recipe works from the working directory), its
// models opened by the planner, and every probe file tokenized with the donor's tokenizer.
#pragma once
#include <filesystem>
#include <memory>

#include "search/strategy.h"

namespace alloy {

struct PreparedSearch {
  std::unique_ptr<Recipe> recipe;
  std::unique_ptr<SearchContext> context;  // refers to *recipe
};

// Throws Error for a slices: recipe, a recipe that does not plan, or one without probe data.
PreparedSearch prepare_search(const std::filesystem::path& recipe_path, const SearchSettings& settings,
                              const std::filesystem::path& stats_dir);

}  // namespace alloy
