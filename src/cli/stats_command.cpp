// `alloy stats fisher|gram MODEL --probe FILE -o OUT.safetensors`: a model's statistics on its
// probe text, computed by the evaluation engine, for a recipe to name (`fisher: OUT`) or to look at.
#include <string>

#include "cli/commands.h"
#include "methods/method.h"
#include "stats/probe_kind.h"
#include "stats/statistics_file.h"
#include "util/error.h"

namespace alloy {

namespace {

struct StatsArgs {
  std::string kind;
  std::string model;
  std::string probe;
  std::string out;
  int ctx = 0;  // 0: the probe_ctx default of the method that reads these statistics
  int64_t samples = 0;
  int batch = 0;  // 0: the pair_batch default
};

}  // namespace

void add_stats_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<StatsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Per-model statistics that data-aware merges learn from, on the model's probe text (BOS + text in chunks "
      "of --ctx tokens, every next token scored): fisher = the diagonal empirical Fisher (mean over chunks of the "
      "squared gradient of the chunk's loss), tensors fisher.<weight>; gram = X^T X of every linear layer's "
      "input, tensors gram.<weight> [in, in]. An embedding encoder (BERT, RoBERTa, XLM-R) learns from a .jsonl "
      "of {\"query\", \"positive\"} pairs instead: fisher = mean over batches of --batch pairs of the squared "
      "gradient of the batch's InfoNCE loss; gram over the real tokens of queries and positives. A recipe names a "
      "Fisher file per model with fisher: FILE.");
  cmd->add_option("kind", a->kind, "fisher or gram")->required()->check(CLI::IsMember({"fisher", "gram"}));
  cmd->add_option("model", a->model, "The model directory")->required();
  cmd->add_option("--probe", a->probe,
                  "Probe data (learning data; never the evaluation text): a text file for a decoder, a .jsonl of "
                  "query/positive pairs for an embedding encoder")
      ->required();
  cmd->add_option("-o,--out", a->out, "Output .safetensors file")->required();
  cmd->add_option("--ctx", a->ctx, "Tokens per chunk (probe_ctx; default: that of the method, fisher 4, regmean 128)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--samples", a->samples, "Chunks (pairs for .jsonl) used (fisher_samples / probe_samples; 0: all)")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "Pairs per InfoNCE batch, .jsonl probes only (pair_batch; default 8)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->callback([a, &exit_code] {
    StatsSettings settings;
    settings.kind = a->kind == "gram" ? StatsKind::Gram : StatsKind::Fisher;
    settings.ctx = a->ctx;
    if (settings.ctx == 0)
      for (const ParamSpec& p : find_method(a->kind == "gram" ? "regmean" : "fisher")->global_params)
        if (p.name == "probe_ctx") settings.ctx = static_cast<int>(*p.default_value);
    settings.samples = a->samples;
    const bool pairs = is_pair_probe(a->probe);
    if (pairs && a->ctx != 0) fail("--ctx cuts probe text; ", a->probe, " holds pairs, grouped by --batch");
    if (!pairs && a->batch != 0) fail("--batch groups .jsonl probe pairs; ", a->probe, " is text, cut by --ctx");
    if (a->batch != 0) settings.pair_batch = a->batch;
    compute_statistics_file(a->model, a->probe, settings, a->out);
    exit_code = 0;
  });
}

}  // namespace alloy
