// `alloy inspect PATH [--tensors] [--json]`: validates a checkpoint and prints its summary to
// stdout. Errors propagate to main, which prints one "alloy: error: ..." line and exits with 1;
// nothing reaches stdout unless the whole summary was built.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/inspect.h"
#include "util/error.h"

namespace alloy {

namespace {

struct InspectOptions {
  std::string path;
  bool tensors = false;
  bool json = false;
};

int run_inspect(const InspectOptions& o) {
  CheckpointSummary summary = summarize_checkpoint(o.path);
  std::string out = o.json ? summary_json_text(summary, o.tensors) : summary_text(summary, o.tensors);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    fail("cannot write to standard output");
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Validate a checkpoint (model directory, .safetensors or .gguf file) and summarize it: "
                 "architecture, layers, tensors, parameters, bytes by dtype; for GGUF also its metadata");
  cmd->add_option("path", o->path, "Model directory, .safetensors file or .gguf file (any part of a split set)")->required();
  cmd->add_flag("--tensors", o->tensors, "Also list every tensor: name, dtype, shape");
  cmd->add_flag("--json", o->json, "Print one JSON object instead of text");
  cmd->callback([o, &exit_code] { exit_code = run_inspect(*o); });
}

}  // namespace alloy
