// `alloy merge RECIPE OUT`: options mirror mergekit-yaml where they make sense.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output_options.h"
#include "eval/evaluate.h"
#include "exec/run_merge.h"
#include "exec/run_stages.h"
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
    OutputOptionText output;
    std::string input_cache = "auto", output_cache = "auto";
    bool quiet = false, no_fsync = false, safe_serialization = true;
    std::vector<CLI::Option*> ignored;  // mergekit options with no meaning here
    std::vector<std::string> eval_texts;
    StageOptions stages;
    CLI::Option *intermediate_option = nullptr, *lazy_option = nullptr;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("recipe", args->opt.recipe, "YAML recipe (mergekit format)")->required();
  cmd->add_option("out", args->opt.out, "output directory")->required();
  cmd->add_option("-j,--threads,--num-threads", args->opt.threads, "worker threads (default: all cores)");
  add_output_options(*cmd, args->output);
  cmd->add_option("--random-seed", args->opt.seed, "seed for randomised methods (DARE, DELLA)")->capture_default_str();
  cmd->add_flag("--allow-crimes,!--no-allow-crimes", args->opt.allow_crimes, "allow models of different architectures");
  cmd->add_flag("--copy-tokenizer,!--no-copy-tokenizer", args->opt.copy_tokenizer,
                "copy the donor model's tokenizer files (default on)");
  cmd->add_flag("--write-model-card,!--no-write-model-card", args->opt.write_model_card,
                "write README.md and alloy_config.yml (default on)");
  cmd->add_flag("--force", args->opt.force, "replace an existing output directory");
  cmd->add_flag("-q,--quiet,!--no-quiet", args->quiet, "no progress bar and no summary");
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
                  "gradient position of the final norm and lm_head (0 as mergekit >= 0.1.2; 1 = the last "
                  "layer's value, as earlier mergekit)")
      ->capture_default_str();
  cmd->add_option("--stats-dir", args->opt.stats_dir,
                  "where data-aware methods (regmean, fisher) keep the statistics they compute from probe data, "
                  "reused by later merges with the same model, probe and settings (default: OUT.alloy-stats)");
  cmd->add_option("--eval", args->eval_texts,
                  "after the merge, print the merged model's perplexity on these text files (as alloy eval does)");
  args->intermediate_option = cmd->add_option(
      "--intermediate-dir", args->stages.intermediate_dir,
      "multi-stage recipes (several YAML documents): where each named stage is merged (default: OUT.alloy-stages)");
  args->lazy_option = cmd->add_flag("--lazy,!--no-lazy", args->stages.lazy,
                                    "multi-stage recipes: reuse a stage merged before from the same recipe and inputs "
                                    "(default on)");
  cmd->add_flag("--safe-serialization,!--no-safe-serialization", args->safe_serialization,
                "write safetensors (the only output format; --no-safe-serialization is refused)");
  // mergekit-yaml options about GPUs, pickles and Python's threads: nothing here to act on them.
  // Accepted so existing command lines keep working, and named once on stderr.
  const char* compat = "mergekit compatibility (accepted, no effect)";
  for (const char* flag : {"--cuda,!--no-cuda", "--lazy-unpickle,!--no-lazy-unpickle",
                           "--low-cpu-memory,!--no-low-cpu-memory", "--clone-tensors,!--no-clone-tensors",
                           "--trust-remote-code,!--no-trust-remote-code", "--async-write,!--no-async-write",
                           "--read-to-gpu,!--no-read-to-gpu", "--multi-gpu,!--no-multi-gpu", "--gpu-rich",
                           "-v,--verbose"})
    args->ignored.push_back(cmd->add_flag(flag)->group(compat));
  for (const char* option : {"--device", "--transformers-cache", "--lora-merge-cache", "--lora-merge-dtype",
                             "--write-threads"})
    args->ignored.push_back(cmd->add_option(option)->group(compat));
  cmd->callback([args, &exit_code] {
    MergeOptions opt = args->opt;
    if (!args->safe_serialization)
      fail("--no-safe-serialization: alloy writes safetensors only (no pickled .bin output)");
    apply_output_options(args->output, opt);
    if (opt.out_format == OutFormat::Gguf && !args->eval_texts.empty())
      fail("--eval needs the tokenizer files beside the merged model, which a GGUF output does not have: run alloy "
           "eval on the GGUF with the donor's tokenizer.model copied beside it, or llama-perplexity");
    auto policy = [](const std::string& name) {
      return name == "keep" ? CachePolicy::Keep : name == "drop" ? CachePolicy::Drop : CachePolicy::Auto;
    };
    opt.input_cache = policy(args->input_cache);
    opt.output_cache = policy(args->output_cache);
    opt.fsync = !args->no_fsync;
    opt.progress = !args->quiet && ::isatty(STDERR_FILENO);
    if (!args->quiet) opt.notice = [](const std::string& line) { std::fprintf(stderr, "alloy: %s\n", line.c_str()); };
    std::string ignored;
    for (const CLI::Option* o : args->ignored)
      if (o->count() > 0) ignored += (ignored.empty() ? "" : ", ") + o->get_name();
    if (!ignored.empty() && opt.notice)
      opt.notice("ignoring " + ignored + ": mergekit options with no meaning here (alloy merges local "
                 "checkpoints on the CPU)");
    for (const std::string& text : args->eval_texts)
      if (!std::filesystem::is_regular_file(text)) fail("--eval: no text file at ", text);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    try {
      args->stages.intermediate_dir_given = args->intermediate_option->count() > 0;
      args->stages.lazy_given = args->lazy_option->count() > 0;
      MergeSummary s = run_stages(opt, args->stages, &g_cancel);
      if (!args->quiet)
        std::printf("merged %zu tensors into %zu shard%s at %s: %.3f GB written, %.3f GB read, %.2f s, %.2f GB/s\n",
                    s.tensors, s.shards, s.shards == 1 ? "" : "s", opt.out.c_str(), s.bytes_written / 1e9,
                    s.bytes_read / 1e9, s.seconds, s.seconds > 0 ? (s.bytes_written + s.bytes_read) / 1e9 / s.seconds : 0.0);
      if (!args->eval_texts.empty()) {
        EvalRequest request;
        request.models = {opt.out.string()};
        request.texts = args->eval_texts;
        try {
          std::string table = eval_table(evaluate(request));
          std::fwrite(table.data(), 1, table.size(), stdout);
        } catch (const Error& e) {
          rethrow_with("merged into " + opt.out.string() + ", but --eval failed", e);
        }
      }
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
