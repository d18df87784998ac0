// run_merge: the whole `alloy merge`: plan, lay out and create the output shards in a temporary
// directory beside the destination, execute, finalize (index, config.json, tokenizer files, model
// card, recipe), fsync, and rename into place. On any error or cancellation the temporary
// directory is removed and an existing destination is left as it was; temporary directories of
// earlier merges to the same destination that were killed are removed first (temp_dir.h).
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/output_layout.h"
#include "os/page_cache_room.h"
#include "plan/merge_plan.h"
#include "recipe/recipe.h"
#include "tensor/ggml_quants.h"

namespace alloy {

// What `out` becomes: safetensors shards in a directory, or GGUF (exec/gguf_output.h): the
// directory's model.gguf or split parts, or, for an `out` ending in ".gguf", that one file.
enum class OutFormat { Safetensors, Gguf };

struct MergeOptions {
  std::filesystem::path recipe;
  // The recipe to merge when it is already parsed (a stage of a multi-stage recipe, run_stages.h);
  // `recipe` then only names its file, beside which relative model and data paths are tried.
  const Recipe* parsed_recipe = nullptr;
  std::filesystem::path out;
  OutFormat out_format = OutFormat::Safetensors;
  // --out-type: GGUF's file type (gguf_output.h); none: each tensor's merge dtype.
  std::optional<GgmlType> out_type;
  int threads = 0;                        // 0: all cores
  uint64_t out_shard_size = 5'000'000'000;  // bytes; GGUF split parts (0: one file)
  bool copy_tokenizer = true;
  bool write_model_card = true;
  bool allow_crimes = false;
  uint64_t seed = 0;
  bool force = false;      // replace an existing destination
  bool progress = false;   // draw a progress bar on stderr
  bool fsync = true;       // make the output durable before the final rename
  double post_weight_t = 0.0;  // gradient position of the final norm and lm_head (mergekit >= 0.1.2)
  std::filesystem::path stats_dir;  // statistics cache of data-aware methods; empty: <out>.alloy-stats
  // Whether input pages stay in the page cache once merged (page_cache_room.h): by default they
  // are dropped only when the inputs are larger than the memory that could cache them.
  CachePolicy input_cache = CachePolicy::Auto;
  // Whether the output's pages stay in the page cache once made durable (with fsync only: pages
  // not yet written to the disk cannot leave it); by default they are dropped only when inputs
  // and output together are larger than the memory that could cache them.
  CachePolicy output_cache = CachePolicy::Auto;
  // Told of things worth a line on stderr that are not errors (stale temporary directories of
  // killed merges removed); may be empty.
  std::function<void(const std::string&)> notice;
};

struct MergeSummary {
  size_t tensors = 0;
  size_t shards = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
  double seconds = 0;  // whole merge, planning to rename
};

MergeSummary run_merge(const MergeOptions& options, const std::atomic<bool>* cancel = nullptr);

// Every input shard stays open for the merge (its descriptor serves the page-cache hints,
// page_hints.h), and models of 100+ shards exist: the soft limit on open files (often 1024) goes
// up to the hard one. Called before inputs are opened.
void raise_open_file_limit();

// The destination `out` names, absolute ("out/" is the directory "out").
std::filesystem::path merge_destination(const std::filesystem::path& out);

// What run_merge decides before it writes anything: the recipe applied to the models, the chat
// template, and the output's files laid out (alloy check shows it without merging).
struct PreparedMerge {
  Recipe recipe;
  MergePlan plan;
  std::optional<std::string> chat_template;
  OutputLayout layout;
  bool single_file = false;  // a GGUF destination named *.gguf
  // Written beside the model (file name, text): the model card and the recipe.
  std::vector<std::pair<std::string, std::string>> extra_files;
};
// compute_statistics false: data-aware methods compute no statistics (PlanOptions).
PreparedMerge prepare_merge(const MergeOptions& options, const std::filesystem::path& dest, bool compute_statistics);

// Refuses a destination the merge may not write (exists without --force, a missing parent, a
// directory where a GGUF file goes); returns whether it exists.
bool check_destination(const MergeOptions& options, const std::filesystem::path& dest);

// The second half of run_merge: writes a prepared merge into a temporary directory and renames it
// into place (alloy moe prepares its own).
MergeSummary write_merge(const MergeOptions& options, const std::filesystem::path& dest, const PreparedMerge& prepared,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace alloy
