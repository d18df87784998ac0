// `alloy check RECIPE [OUT]`: what the merge would do and need, without merging (check/check_recipe.h).
#include <cstdio>

#include "check/check_recipe.h"
#include "cli/commands.h"
#include "cli/output_options.h"

namespace alloy {

void add_check_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "check", "everything about a merge that is known before it runs, in a second, without reading tensor data: "
               "models and where they are, architectures, tokenizers, the output's files and size, the memory "
               "it wants; exits nonzero with the merge's error where the merge would fail");
  struct Args {
    CheckOptions check;
    OutputOptionText output;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  MergeOptions& merge = args->check.merge;
  cmd->add_option("recipe", merge.recipe, "YAML recipe (mergekit format)")->required();
  cmd->add_option("out", merge.out, "the merge's output, to lay out its files as alloy merge would (optional)");
  add_output_options(*cmd, args->output);
  cmd->add_flag("--allow-crimes,!--no-allow-crimes", merge.allow_crimes, "allow models of different architectures");
  cmd->add_flag("--copy-tokenizer,!--no-copy-tokenizer", merge.copy_tokenizer,
                "as alloy merge: the donor model's tokenizer files go into the output (default on)");
  cmd->add_option("--post-weight-t", merge.post_weight_t, "as alloy merge")->capture_default_str();
  cmd->add_option("--stats-dir", merge.stats_dir, "as alloy merge: where data-aware methods' statistics are cached");
  cmd->add_option("--intermediate-dir", args->check.intermediate_dir, "as alloy merge, for multi-stage recipes");
  cmd->add_option("--explain", args->check.explain,
                  "an output tensor whose source tensors, method and resolved parameters per model are listed "
                  "(repeatable)");
  cmd->add_flag("--json", args->json, "the report as JSON");
  cmd->callback([args, &exit_code] {
    CheckOptions options = args->check;
    apply_output_options(args->output, options.merge);
    const CheckReport report = check_recipe(options);
    const std::string text = args->json ? check_report_json(report).dump(2) : check_report_text(report);
    std::printf("%s\n", text.c_str());
    exit_code = 0;
  });
}

}  // namespace alloy
