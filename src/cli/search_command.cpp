// `alloy search RECIPE OUT --strategy NAME`: tunes a recipe on its probe data (src/search/), then
// merges the tuned recipe into OUT with OUT/alloy_config.yml and OUT/search_report.json.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "search/run_search.h"
#include "util/error.h"

namespace alloy {

namespace {

std::atomic<bool> g_search_cancel{false};
extern "C" void on_search_signal(int) { g_search_cancel.store(true); }

}  // namespace

void add_search_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("search", "tune a recipe's coefficients on its probe data, then merge the tuned recipe");
  struct Args {
    SearchOptions opt;
    int threads = 0;
    bool quiet = false, no_fsync = false;
  };
  auto args = std::make_shared<Args>();
  std::string strategies;
  for (const StrategySpec& s : strategy_registry()) strategies += (strategies.empty() ? "" : "|") + s.name;
  cmd->add_option("recipe", args->opt.recipe, "YAML recipe (mergekit format) with probe: texts")->required();
  cmd->add_option("out", args->opt.out, "output directory")->required();
  cmd->add_option("--strategy", args->opt.strategy, strategies)->required();
  cmd->add_option("--seed", args->opt.settings.seed, "seed (randomised methods and strategies)")->capture_default_str();
  cmd->add_option("--steps", args->opt.settings.steps, "step budget (derivative-free: objective evaluations; default: "
                                                       "the strategy's own)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tune", args->opt.settings.tune,
                  "parameters to search, NAME or NAME=LOW:HIGH, comma-separated (derivative-free; default: weight)")
      ->delimiter(',');
  cmd->add_option("--mu", args->opt.settings.mu,
                  "self-positioning: penalty mu * lambda on the norm scale lambda (default 0)");
  cmd->add_option("--ctx", args->opt.settings.ctx, "tokens per probe chunk of text probes (default 128)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--pair-batch", args->opt.settings.pair_batch,
                  "query/positive pairs per InfoNCE batch of .jsonl probes (embedding encoders; default 8)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("-j,--threads", args->threads, "threads (default: all cores); results do not depend on it");
  cmd->add_option("--stats-dir", args->opt.stats_dir,
                  "where data-aware methods (regmean, fisher) keep their statistics (default: OUT.alloy-stats)");
  cmd->add_flag("--force", args->opt.force, "replace an existing output directory");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress lines");
  cmd->add_flag("--no-fsync", args->no_fsync, "skip the fsyncs that make the output durable before the rename");
  cmd->callback([args, &exit_code] {
    SearchOptions opt = args->opt;
    opt.settings.threads = args->threads;
    opt.fsync = !args->no_fsync;
    if (!args->quiet) opt.log = [](const std::string& line) { std::fprintf(stderr, "alloy search: %s\n", line.c_str()); };
    struct sigaction sa {};
    sa.sa_handler = on_search_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    try {
      SearchSummary s = run_search(opt, &g_search_cancel);
      if (!args->quiet)
        std::printf("%s: probe loss %.6f after %zu steps; searched in %.2f s, merged in %.2f s into %s\n",
                    opt.strategy.c_str(), s.result.final_loss, s.result.steps.size(), s.search_seconds,
                    s.merge_seconds, opt.out.c_str());
      exit_code = 0;
    } catch (const Error& e) {
      if (g_search_cancel.load()) {
        std::fprintf(stderr, "alloy: interrupted; nothing was written to %s\n", opt.out.c_str());
        exit_code = 130;
        return;
      }
      throw;
    }
  });
}

}  // namespace alloy
