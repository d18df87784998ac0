// `alloy extract-lora FINETUNED BASE OUT --rank R` (mergekit-extract-lora): the fine-tune's
// difference from its base as a PEFT LoRA adapter, by truncated SVD of each linear layer's task
// vector; prints and writes (OUT/extract_report.json) each module's rank and relative error.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "lora/extract_lora.h"

namespace alloy {

namespace {

struct ExtractArgs {
  std::string fine_tuned, base, out;
  ExtractOptions options;
  bool quiet = false;
};

}  // namespace

void add_extract_lora_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ExtractArgs>();
  CLI::App* cmd = app.add_subcommand(
      "extract-lora",
      "Extract a LoRA adapter: each linear layer's task vector (fine-tune minus base) truncated by SVD to rank R, "
      "B = U·√S, A = √S·Vᵀ; embeddings and changed non-linear modules (norms) saved whole (modules_to_save). "
      "Writes OUT/adapter_config.json, adapter_model.safetensors and extract_report.json (docs/lora.md).");
  cmd->add_option("finetuned", a->fine_tuned, "fine-tuned model")->required();
  cmd->add_option("base", a->base, "its base model")->required();
  cmd->add_option("out", a->out, "output adapter directory")->required();
  cmd->add_option("-r,--rank,--max-rank", a->options.rank, "largest rank of a module's factors")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--distribute-scale,!--no-distribute-scale", a->options.distribute_scale,
                "split the singular values as √S into both factors (default), or put S into A alone")
      ->capture_default_str();
  cmd->add_flag("--embed-lora,!--no-embed-lora", a->options.embed_lora,
                "input embeddings and the LM head as low-rank factors too, instead of saved whole")
      ->capture_default_str();
  cmd->add_option("--save-module", a->options.save_modules,
                  "module saved whole (its full name or last components); repeatable");
  cmd->add_option("-i,--include-regex", a->options.include_regex,
                  "only modules whose name a search of one of these finds; repeatable");
  cmd->add_option("-e,--exclude-regex", a->options.exclude_regex, "leave out modules this finds; repeatable");
  cmd->add_option("--sv-epsilon", a->options.sv_epsilon, "drop singular values at or below this")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--skip-undecomposable", a->options.skip_undecomposable,
                "leave out changed modules without a weight matrix (norms) instead of saving them whole");
  cmd->add_flag("--force", a->options.force, "replace an existing OUT");
  cmd->add_flag("-q,--quiet", a->quiet, "print nothing but errors");
  cmd->callback([a, &exit_code] {
    const ExtractReport report = extract_lora(a->fine_tuned, a->base, a->out, a->options);
    if (!a->quiet) {
      std::printf("%-48s %-15s %5s %14s %14s\n", "module", "kind", "rank", "rel. error", "truncation");
      for (const auto& m : report.modules)
        std::printf("%-48s %-15s %5lld %14.6e %14.6e\n", m.module.c_str(), m.kind.c_str(),
                    static_cast<long long>(m.rank), m.relative_error, m.discarded_fraction);
      std::printf("wrote %s\n", a->out.c_str());
    }
    exit_code = 0;
  });
}

}  // namespace alloy
