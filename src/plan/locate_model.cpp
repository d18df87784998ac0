#include "plan/locate_model.h"

#include "recipe/hf_cache.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

fs::path locate_model(const ModelRef& ref, const fs::path& recipe_dir, const std::string& where, bool lora) {
  const std::string& path = lora ? ref.lora_path : ref.path;
  const std::string& revision = lora ? ref.lora_revision : ref.revision;
  const std::string what = lora ? cat("LoRA adapter '", path, "' of model '", ref.str(), "'") : cat("model '", ref.str(), "'");
  std::error_code ec;
  // A local directory has no revisions: `name@rev` is always a Hub id.
  if (revision.empty()) {
    if (fs::exists(path, ec)) return path;
    if (!recipe_dir.empty() && fs::exists(recipe_dir / path, ec)) return recipe_dir / path;
  }
  const std::string local = cat(revision.empty() ? "not found in the working directory" : "",
                                revision.empty() && !recipe_dir.empty() ? " or beside the recipe" : "");
  if (!is_hub_repo_id(path))
    fail(where, ": ", what, " ", local.empty() ? "has a revision but is no Hub id" : local, "; give the path of a local ",
         lora ? "adapter directory" : "checkpoint");
  try {
    return find_hf_snapshot(hf_hub_cache_dir(), path, revision);
  } catch (const Error& e) {
    fail(where, ": ", what, " ", local, local.empty() ? "" : ", and ", e.what());
  }
}

}  // namespace alloy
