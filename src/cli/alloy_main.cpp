#include <cstdio>

#include "cli/commands.h"

int alloy_main(int argc, char** argv) {
  CLI::App app{"alloy: merge fine-tuned checkpoints of one architecture into one model"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("alloy ") + ALLOY_VERSION);
  int exit_code = 0;
  alloy::add_merge_command(app, exit_code);
  alloy::add_inspect_command(app, exit_code);
  alloy::add_fixture_command(app, exit_code);
  alloy::add_eval_command(app, exit_code);
  alloy::add_analyze_command(app, exit_code);
  alloy::add_stats_command(app, exit_code);
  alloy::add_search_command(app, exit_code);
  alloy::add_extract_lora_command(app, exit_code);
  alloy::add_check_command(app, exit_code);
  alloy::add_moe_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
