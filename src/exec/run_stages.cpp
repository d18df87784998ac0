#include "exec/run_stages.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>

#include "recipe/stages.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(const std::string& text, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// What a stage's output depends on: its document (after its references to other stages were
// rewritten), the keys of the stages it reads (a re-run input re-runs its readers), and the merge
// settings that change bytes. Input checkpoints outside the recipe are not fingerprinted (as
// mergekit-multi, which reuses any complete output).
std::string stage_key(const Stage& s, const std::vector<std::string>& keys, const MergeOptions& opt) {
  std::string text = s.recipe.source_text;
  for (size_t i : s.inputs) text += "\ninput " + keys[i];
  for (const auto& ref : s.recipe.referenced_models()) text += "\nmodel " + ref.str();
  text += cat("\nseed ", opt.seed, " post_weight_t ", opt.post_weight_t, " shard ", opt.out_shard_size, " crimes ",
              opt.allow_crimes, " tokenizer ", opt.copy_tokenizer, " card ", opt.write_model_card);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, fnv1a(text));
  return hex;
}

bool reusable(const fs::path& out, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(out / kStageKeyFile, ec) || !fs::exists(out / "config.json", ec)) return false;
  try {
    return read_whole_file(out / kStageKeyFile, "stage key", 64) == key + "\n";
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

MergeSummary run_stages(const MergeOptions& opt, const StageOptions& so, const std::atomic<bool>* cancel) {
  std::vector<Recipe> docs = load_recipe_documents(opt.recipe);
  if (docs.size() == 1) {
    if (so.intermediate_dir_given || so.lazy_given)
      fail(so.intermediate_dir_given ? "--intermediate-dir" : "--lazy/--no-lazy", ": ", opt.recipe.string(),
           " has one YAML document, so no stages to run first; drop the option");
    MergeOptions single = opt;
    single.parsed_recipe = &docs.front();
    return run_merge(single, cancel);
  }
  fs::path out = fs::absolute(opt.out).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  const fs::path dir = fs::absolute(so.intermediate_dir.empty() ? fs::path(out.string() + ".alloy-stages")
                                                                 : so.intermediate_dir)
                           .lexically_normal();
  const std::vector<Stage> stages = order_stages(std::move(docs), dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir.string(), ": cannot create the intermediate directory: ", ec.message());

  std::vector<std::string> keys;
  MergeSummary last;
  for (const Stage& s : stages) {
    MergeOptions step = opt;
    step.parsed_recipe = &s.recipe;
    if (s.final) {
      if (opt.notice) opt.notice(cat("stage ", keys.size() + 1, "/", stages.size(), ": the final merge into ", out.string()));
      return run_merge(step, cancel);
    }
    const std::string key = stage_key(s, keys, opt);
    keys.push_back(key);
    step.out = dir / s.recipe.name;
    step.out_format = OutFormat::Safetensors;  // a stage is read back as an input
    step.out_type.reset();
    step.force = true;
    if (so.lazy && reusable(step.out, key)) {
      if (opt.notice) opt.notice(cat("stage ", keys.size(), "/", stages.size(), ": '", s.recipe.name, "' reused from ",
                                     step.out.string(), " (--no-lazy merges it again)"));
      continue;
    }
    if (opt.notice) opt.notice(cat("stage ", keys.size(), "/", stages.size(), ": '", s.recipe.name, "' into ", step.out.string()));
    fs::remove(step.out / kStageKeyFile, ec);  // an interrupted re-run must not look finished
    last = run_merge(step, cancel);
    std::ofstream(step.out / kStageKeyFile) << key << "\n";
  }
  return last;
}

}  // namespace alloy
