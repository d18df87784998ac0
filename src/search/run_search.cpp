#include "search/run_search.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "exec/run_merge.h"
#include "exec/temp_dir.h"
#include "model/parallel.h"
#include "search/search_objective.h"
#include "search/search_setup.h"
#include "search/search_runtime.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

void write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) fail(path.string(), ": cannot write");
}

std::string strategy_names() {
  std::string names;
  for (const StrategySpec& s : strategy_registry()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

// The staging directory beside OUT; removed unless the search finished (its lock file makes a
// later merge or search to OUT remove it when this process was killed).
struct Staging {
  fs::path path;
  int lock = -1;
  ~Staging() {
    if (!path.empty()) remove_temp_dir(path);
    if (lock >= 0) ::close(lock);
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

nlohmann::json search_report(const SearchOptions& options, const SearchContext& context, const SearchResult& result,
                             double search_seconds) {
  nlohmann::json steps = nlohmann::json::array();
  for (const SearchStep& s : result.steps) steps.push_back({{"step", s.step}, {"loss", s.loss}, {"note", s.note}});
  nlohmann::json probes = nlohmann::json::array();
  for (const ProbeSet& p : context.probes)
    probes.push_back(context.encoder ? nlohmann::json{{"file", p.written}, {"pairs", p.pairs.total_pairs()}}
                                     : nlohmann::json{{"file", p.written}, {"chunks", p.chunks.size()}});
  return {{"strategy", options.strategy},
          {"seed", options.settings.seed},
          {"objective", search_objective_text(context)},
          {"probe", probes},
          {context.encoder ? "pair_batch" : "probe_ctx",
           context.encoder ? (options.settings.pair_batch ? options.settings.pair_batch : kDefaultPairBatch)
                           : options.settings.ctx.value_or(128)},
          {"steps", steps},
          {"final_loss", result.final_loss},
          {"coefficients", result.coefficients},
          {"details", result.details},
          {"threads", options.settings.threads},
          {"seconds", search_seconds}};
}

SearchSummary run_search(const SearchOptions& opt, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  const StrategySpec* strategy = find_strategy(opt.strategy);
  if (!strategy) fail("--strategy ", opt.strategy, ": no such strategy (known: ", strategy_names(), ")");
  if (opt.settings.mu && !strategy->takes_mu)
    fail("--mu: --strategy ", opt.strategy, " has no norm scale to penalise; --mu applies to self-positioning");
  if (opt.settings.mu && !(*opt.settings.mu >= 0 && std::isfinite(*opt.settings.mu)))
    fail("--mu ", *opt.settings.mu, ": give a finite number >= 0");
  fs::path dest = fs::absolute(opt.out).lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();
  std::error_code ec;
  const bool dest_exists = fs::exists(dest, ec);
  // Checked before the search, which may take minutes, and again by the final merge.
  if (dest_exists && !opt.force && !(fs::is_directory(dest, ec) && fs::is_empty(dest, ec)))
    fail(dest.string(), ": already exists; pass --force to replace it");
  if (!fs::is_directory(dest.parent_path(), ec))
    fail(dest.parent_path().string(), ": output's parent directory does not exist");
  const fs::path stats_dir = opt.stats_dir.empty() ? fs::path(dest.string() + ".alloy-stats") : opt.stats_dir;

  set_engine_threads(opt.settings.threads);
  PreparedSearch prepared = prepare_search(opt.recipe, opt.settings, stats_dir);
  SearchContext& context = *prepared.context;
  context.progress = [&](const SearchStep& s) {
    if (cancel && cancel->load()) fail("interrupted");
    if (opt.log)
      opt.log(cat("step ", s.step, ": probe loss ", s.loss, s.note.empty() ? "" : "  (" + s.note + ")"));
  };
  if (opt.log)
    opt.log(cat(opt.strategy, " over ", context.models.size(), " models, ", context.probes.size(), " probe set",
                context.probes.size() == 1 ? "" : "s"));
  SearchSummary summary;
  {
    const SearchRuntime runtime(context.encoder ? context.encoder->hidden_size : context.config.hidden_size);
    summary.result = strategy->run(context);
  }
  summary.search_seconds = seconds_since(start);
  if (cancel && cancel->load()) fail("interrupted");

  for (const fs::path& stale : remove_stale_temp_dirs(dest))
    if (opt.log) opt.log("removed " + stale.string() + ", left by a merge or search that was killed");
  Staging staging;
  staging.path = temp_dir_for(dest, ::getpid());
  if (!clear_temp_dir(staging.path))
    fail(staging.path.string(), ": in use by another merge to the same destination; wait for it or search elsewhere");
  if (!fs::create_directory(staging.path, ec)) fail(staging.path.string(), ": cannot create: ", ec.message());
  staging.lock = create_temp_dir_lock(staging.path);

  // The final model comes from the ordinary merge of the tuned recipe, so that `alloy merge
  // OUT/alloy_config.yml` reproduces it byte for byte.
  const fs::path tuned = staging.path / "alloy_config.yml";
  write_text_file(tuned, summary.result.recipe_yaml);
  const auto merge_start = std::chrono::steady_clock::now();
  MergeOptions mopt;
  mopt.recipe = tuned;
  mopt.out = staging.path / dest.filename();
  mopt.threads = opt.settings.threads;
  mopt.seed = opt.settings.seed;
  mopt.fsync = opt.fsync;
  mopt.stats_dir = stats_dir;
  run_merge(mopt, cancel);
  summary.merge_seconds = seconds_since(merge_start);
  const fs::path report = mopt.out / "search_report.json";
  write_text_file(report, search_report(opt, context, summary.result, summary.search_seconds).dump(2) + "\n");
  if (cancel && cancel->load()) fail("interrupted");
  if (opt.fsync) {
    if (FILE* f = std::fopen(report.c_str(), "rb")) {
      ::fsync(fileno(f));
      std::fclose(f);
    }
  }
  move_into_place(mopt.out, dest, dest_exists);
  return summary;
}

}  // namespace alloy
