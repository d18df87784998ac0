// The output options `alloy merge` and `alloy check` share: --out-format, --out-type and
// --out-shard-size, registered on a command and turned into MergeOptions fields.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "exec/run_merge.h"

namespace alloy {

struct OutputOptionText {
  std::string shard_size = "5B";
  std::string out_format = "auto";
  std::string out_type;  // empty: each tensor's merge dtype
  CLI::Option* shard_size_option = nullptr;
};

void add_output_options(CLI::App& cmd, OutputOptionText& text);

// Sets options.out_format, out_type and out_shard_size from the text (options.out must be set
// first: an OUT ending in .gguf means GGUF). Throws Error naming the option.
void apply_output_options(const OutputOptionText& text, MergeOptions& options);

}  // namespace alloy
