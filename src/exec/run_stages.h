// run_stages: `alloy merge` of a recipe file, one document or several (a multi-stage recipe,
// recipe/stages.h). Each stage is merged by run_merge into <intermediate dir>/<name>, in dependency
// order, and the final document into OUT. A stage whose output is complete and was made from the
// same stage recipe, inputs and settings is reused instead of merged again (unless lazy is off).
#pragma once
#include <atomic>
#include <filesystem>

#include "exec/run_merge.h"

namespace alloy {

struct StageOptions {
  std::filesystem::path intermediate_dir;  // empty: OUT.alloy-stages beside OUT
  bool intermediate_dir_given = false;     // with one document, the stage options are refused
  bool lazy = true;
  bool lazy_given = false;
};

// The name of the file in a stage's output that records what it was made from.
inline constexpr const char* kStageKeyFile = "alloy_stage.key";

// Returns the final merge's summary. A one-document recipe is run_merge unchanged.
MergeSummary run_stages(const MergeOptions& options, const StageOptions& stages,
                        const std::atomic<bool>* cancel = nullptr);

}  // namespace alloy
