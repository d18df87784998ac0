// The alloy subcommands; each file in src/cli/ registers one with the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace alloy {

// Each add_* function registers a subcommand whose callback sets `exit_code`.
void add_inspect_command(CLI::App& app, int& exit_code);
void add_merge_command(CLI::App& app, int& exit_code);
void add_fixture_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_analyze_command(CLI::App& app, int& exit_code);
void add_stats_command(CLI::App& app, int& exit_code);
void add_search_command(CLI::App& app, int& exit_code);
void add_extract_lora_command(CLI::App& app, int& exit_code);
void add_check_command(CLI::App& app, int& exit_code);
void add_moe_command(CLI::App& app, int& exit_code);

}  // namespace alloy
