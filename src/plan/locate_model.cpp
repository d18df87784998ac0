#include "plan/locate_model.h"

#include "recipe/hf_cache.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

fs::path locate_model(const ModelRef& ref, const fs::path& recipe_dir, const std::string& where) {
  std::error_code ec;
  // A local directory has no revisions: `name@rev` is always a Hub id.
  if (ref.revision.empty()) {
    if (fs::exists(ref.path, ec)) return ref.path;
    if (!recipe_dir.empty() && fs::exists(recipe_dir / ref.path, ec)) return recipe_dir / ref.path;
  }
  const std::string local = cat(ref.revision.empty() ? "not found in the working directory" : "",
                                ref.revision.empty() && !recipe_dir.empty() ? " or beside the recipe" : "");
  if (!is_hub_repo_id(ref.path))
    fail(where, ": model '", ref.str(), "' ", local.empty() ? "has a revision but is no Hub id" : local,
         "; give the path of a local checkpoint");
  try {
    return find_hf_snapshot(hf_hub_cache_dir(), ref.path, ref.revision);
  } catch (const Error& e) {
    fail(where, ": model '", ref.str(), "' ", local, local.empty() ? "" : ", and ", e.what());
  }
}

}  // namespace alloy
