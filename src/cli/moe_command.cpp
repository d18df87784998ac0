// `alloy moe CONFIG OUT`: mergekit-moe's configs (moe/moe_assembly.h).
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "moe/moe_assembly.h"
#include "util/error.h"
#include "util/size_text.h"

namespace alloy {

void add_moe_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("moe", "assemble a Mixture of Experts (Mixtral or Qwen2-MoE) from dense models, as "
                                        "mergekit-moe's YAML config says");
  struct Args {
    MoeOptions moe;
    std::string shard_size = "5B";
    bool quiet = false, no_fsync = false;
  };
  auto args = std::make_shared<Args>();
  MergeOptions& merge = args->moe.merge;
  cmd->add_option("config", args->moe.config, "mergekit-moe YAML config")->required();
  cmd->add_option("out", merge.out, "output directory")->required();
  cmd->add_option("-j,--threads", merge.threads, "worker threads (default: all cores)");
  cmd->add_option("--out-shard-size", args->shard_size, "largest output shard, bytes (as alloy merge)")
      ->capture_default_str();
  cmd->add_option("--random-seed", merge.seed, "seed for gate_mode random and uniform_random")->capture_default_str();
  cmd->add_flag("--copy-tokenizer,!--no-copy-tokenizer", merge.copy_tokenizer,
                "copy the base model's tokenizer files (default on)");
  cmd->add_flag("--write-model-card,!--no-write-model-card", merge.write_model_card,
                "write README.md and alloy_moe_config.yml (default on)");
  cmd->add_flag("--force", merge.force, "replace an existing output directory");
  cmd->add_flag("--no-fsync", args->no_fsync, "skip the fsyncs that make the output durable before the rename");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar and no summary");
  cmd->add_flag("--i-understand-this-is-not-useful-without-training", args->moe.allow_identical_experts,
                "allow every expert to be the same model");
  cmd->callback([args, &exit_code] {
    MoeOptions options = args->moe;
    try {
      options.merge.out_shard_size = parse_size_text(args->shard_size, SizeUnit::Bytes);
    } catch (const Error& e) {
      rethrow_with("--out-shard-size", e);
    }
    options.merge.fsync = !args->no_fsync;
    options.merge.progress = !args->quiet && ::isatty(STDERR_FILENO);
    if (!args->quiet) options.merge.notice = [](const std::string& line) { std::fprintf(stderr, "alloy: %s\n", line.c_str()); };
    const MergeSummary s = run_moe(options);
    if (!args->quiet)
      std::printf("assembled %zu tensors into %zu shard%s at %s: %.3f GB written, %.2f s\n", s.tensors, s.shards,
                  s.shards == 1 ? "" : "s", options.merge.out.c_str(), s.bytes_written / 1e9, s.seconds);
    exit_code = 0;
  });
}

}  // namespace alloy
