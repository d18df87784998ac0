// Where a model a recipe names is: a local path (the working directory, then beside the recipe),
// else a Hub id in the local Hugging Face cache (recipe/hf_cache.h). No downloads.
#pragma once
#include <filesystem>
#include <string>

#include "recipe/recipe.h"

namespace alloy {

// `where` names the recipe line for errors ("recipe.yml:4"). With `lora`, the model's adapter
// (ref.lora_path). Throws Error saying where it looked.
std::filesystem::path locate_model(const ModelRef& ref, const std::filesystem::path& recipe_dir,
                                   const std::string& where, bool lora = false);

}  // namespace alloy
