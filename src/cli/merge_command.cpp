// `alloy merge RECIPE OUT`: options mirror mergekit-yaml where they make sense.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "exec/run_merge.h"
#include "io/output_layout.h"
#include "util/error.h"

namespace alloy {

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_signal(int) { g_cancel.store(true); }

}  // namespace

void add_merge_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("merge", "merge models as a mergekit-style YAML recipe says");
  struct Args {
    MergeOptions opt;
    std::string shard_size = "5B";
    std::string input_cache = "auto", output_cache = "auto";
    bool no_copy_tokenizer = false, no_card = false, quiet = false, no_fsync = false;
    bool ignored_flag = false;
    int ignored_int = 0;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("recipe", args->opt.recipe, "YAML recipe (mergekit format)")->required();
  cmd->add_option("out", args->opt.out, "output directory")->required();
  cmd->add_option("-j,--threads,--num-threads", args->opt.threads, "worker threads (default: all cores)");
  cmd->add_option("--out-shard-size", args->shard_size,
                  "largest output shard, bytes; suffixes K/M/B (x1e3/1e6/1e9), KB/MB/GB, KiB/MiB/GiB")
      ->capture_default_str();
  cmd->add_option("--random-seed", args->opt.seed, "seed for randomised methods (DARE, DELLA)")->capture_default_str();
  cmd->add_flag("--allow-crimes", args->opt.allow_crimes, "allow models of different architectures");
  cmd->add_flag("--copy-tokenizer,!--no-copy-tokenizer", args->opt.copy_tokenizer,
                "copy the donor model's tokenizer files (default on)");
  cmd->add_flag("--write-model-card,!--no-write-model-card", args->opt.write_model_card,
                "write README.md and alloy_config.yml (default on)");
  cmd->add_flag("--force", args->opt.force, "replace an existing output directory");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar and no summary");
  cmd->add_flag("--no-fsync", args->no_fsync,
                "skip the fsyncs (and the background flushes) that make the output durable before the rename");
  cmd->add_option("--input-cache", args->input_cache,
                  "the input pages once merged: keep them in the page cache, drop them, or auto: drop them only "
                  "when the inputs are larger than the memory that could cache them")
      ->check(CLI::IsMember({"auto", "keep", "drop"}))
      ->capture_default_str();
  cmd->add_option("--output-cache", args->output_cache,
                  "the output's pages once durable: keep them in the page cache, drop them, or auto: drop them "
                  "only when inputs and output together are larger than the memory that could cache them (no "
                  "effect with --no-fsync)")
      ->check(CLI::IsMember({"auto", "keep", "drop"}))
      ->capture_default_str();
  cmd->add_option("--post-weight-t", args->opt.post_weight_t,
                  "gradient position of the final norm and lm_head (1 = last layer's value; mergekit >= 0.1.2 uses 0)")
      ->capture_default_str();
  // mergekit options that have no meaning here; accepted so existing command lines keep working.
  auto* compat = "mergekit compatibility (accepted, no effect)";
  for (const char* flag : {"--cuda,!--no-cuda", "--lazy-unpickle,!--no-lazy-unpickle", "--low-cpu-memory",
                           "--clone-tensors", "--trust-remote-code", "--safe-serialization", "--async-write",
                           "--read-to-gpu", "--multi-gpu", "--gpu-rich", "-v,--verbose"})
    cmd->add_flag(flag, args->ignored_flag)->group(compat);
  cmd->add_option("--write-threads", args->ignored_int)->group(compat);
  cmd->callback([args, &exit_code] {
    MergeOptions opt = args->opt;
    opt.out_shard_size = parse_size(args->shard_size);
    auto policy = [](const std::string& name) {
      return name == "keep" ? CachePolicy::Keep : name == "drop" ? CachePolicy::Drop : CachePolicy::Auto;
    };
    opt.input_cache = policy(args->input_cache);
    opt.output_cache = policy(args->output_cache);
    opt.fsync = !args->no_fsync;
    opt.progress = !args->quiet && ::isatty(STDERR_FILENO);
    if (!args->quiet) opt.notice = [](const std::string& line) { std::fprintf(stderr, "alloy: %s\n", line.c_str()); };
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    try {
      MergeSummary s = run_merge(opt, &g_cancel);
      if (!args->quiet)
        std::printf("merged %zu tensors into %zu shard%s at %s: %.3f GB written, %.3f GB read, %.2f s, %.2f GB/s\n",
                    s.tensors, s.shards, s.shards == 1 ? "" : "s", opt.out.c_str(), s.bytes_written / 1e9,
                    s.bytes_read / 1e9, s.seconds, s.seconds > 0 ? (s.bytes_written + s.bytes_read) / 1e9 / s.seconds : 0.0);
      exit_code = 0;
    } catch (const Error& e) {
      if (g_cancel.load()) {
        std::fprintf(stderr, "alloy: interrupted; nothing was written to %s\n", opt.out.c_str());
        exit_code = 130;
        return;
      }
      throw;
    }
  });
}

}  // namespace alloy
