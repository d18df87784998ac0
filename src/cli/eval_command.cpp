// `alloy eval MODEL... --text FILE...`: the perplexity of each model on each text, as a table
// (or --json), scored exactly as llama.cpp's perplexity tool scores a file.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "eval/evaluate.h"
#include "eval/evaluate_pairs.h"
#include "model/parallel.h"
#include "util/error.h"

namespace alloy {

namespace {

namespace fs = std::filesystem;

struct EvalArgs {
  EvalRequest request;
  std::vector<std::string> specialists;  // TEXT=MODEL
  bool json = false;
  bool quiet = false;
  int threads = 0;
  std::vector<std::string> pairs;  // --pairs: embedding models instead of perplexity
  std::string pooling;
  double temperature = 0.05;
};

// `name` as the user may write it for a path they gave: the path itself, its file name, or its stem.
bool names_path(const std::string& name, const std::string& path) {
  fs::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" names dir
  return name == path || name == p.filename().string() || name == p.stem().string();
}

size_t find_named(const std::string& name, const std::vector<std::string>& paths, const char* what) {
  std::vector<size_t> hits;
  for (size_t i = 0; i < paths.size(); ++i)
    if (names_path(name, paths[i])) hits.push_back(i);
  if (hits.size() == 1) return hits[0];
  fail("--specialist: ", hits.empty() ? "no " : "more than one ", what, " is named '", name,
       "'; give the path as on the command line");
}

void parse_specialists(EvalArgs& a) {
  for (const std::string& s : a.specialists) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) fail("--specialist '", s, "': expected TEXT=MODEL");
    size_t text = find_named(s.substr(0, eq), a.request.texts, "text");
    size_t model = find_named(s.substr(eq + 1), a.request.models, "model");
    a.request.specialists[text] = model;
  }
}

void show_progress(const EvalRequest& r, size_t m, size_t t, int64_t done, int64_t total) {
  const int width = 30;
  const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  std::fprintf(stderr, "\r  model %zu/%zu  text %zu/%zu  [%s%s] %3d%%", m + 1, r.models.size(), t + 1,
               r.texts.size(), std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
               static_cast<int>(100 * done / std::max<int64_t>(total, 1)));
  std::fflush(stderr);
}

int run_pairs(const EvalArgs& a) {
  if (!a.request.texts.empty() || !a.specialists.empty())
    fail("--pairs evaluates embedding models; --text and --specialist are for perplexity, give one or the other");
  PairsRequest request;
  request.models = a.request.models;
  request.pairs = a.pairs;
  if (!a.pooling.empty()) request.pooling = pooling_from_name(a.pooling);
  request.temperature = a.temperature;
  request.batch = a.request.batch;
  const PairsReport report = evaluate_pairs(request);
  const std::string out = a.json ? pairs_json(report).dump(2) + "\n" : pairs_table(report);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    fail("cannot write to standard output");
  return 0;
}

int run_eval(EvalArgs& a) {
  if (a.threads > 0) set_engine_threads(a.threads);
  if (!a.pairs.empty()) return run_pairs(a);
  if (a.request.texts.empty()) fail("no text to evaluate on: give --text FILE (perplexity) or --pairs FILE.jsonl");
  parse_specialists(a);
  const bool progress = !a.quiet && ::isatty(STDERR_FILENO);
  if (progress)
    a.request.progress = [&a](size_t m, size_t t, int64_t done, int64_t total) {
      show_progress(a.request, m, t, done, total);
    };
  EvalStats stats;
  EvalReport report = evaluate(a.request, &stats);
  if (progress) std::fprintf(stderr, "\r%80s\r", "");
  std::string out = a.json ? eval_json(report).dump(2) + "\n" : eval_table(report);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    fail("cannot write to standard output");
  if (!a.quiet && !a.json)
    std::fprintf(stderr, "%lld tokens run in %.2f s (%.0f tokens/s)\n", static_cast<long long>(stats.tokens_run),
                 stats.seconds, stats.seconds > 0 ? stats.tokens_run / stats.seconds : 0.0);
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Perplexity of each model on each text. Scored as llama.cpp's perplexity tool does: the whole file is "
      "tokenized once with a leading BOS and cut into chunks of --ctx tokens (a partial last chunk is "
      "dropped); each chunk's first token is replaced by BOS and its last ctx/2 - 1 tokens are scored, each "
      "predicted from the chunk's tokens before it. PPL = exp(mean NLL over the scored tokens).");
  cmd->add_option("models", a->request.models, "Model directories (config.json, safetensors, tokenizer)")
      ->required();
  cmd->add_option("--text", a->request.texts, "Text files to score on");
  cmd->add_option("--ctx", a->request.ctx, "Tokens per chunk")->capture_default_str()->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--batch", a->request.batch, "Chunks per forward pass (default: as many as fit ~256 MiB of activations)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--specialist", a->specialists,
                  "TEXT=MODEL: MODEL is the specialist of TEXT's domain; adds the figure of merit, the geometric "
                  "mean over those texts of PPL(model) / PPL(specialist)");
  cmd->add_option("--pairs", a->pairs,
                  "JSONL files of {\"query\": ..., \"positive\": ...}: report each embedding model's (BERT, "
                  "RoBERTa, XLM-R) InfoNCE loss with in-batch negatives and retrieval accuracy instead of "
                  "perplexity; --batch is then pairs per group of negatives (default 32)");
  cmd->add_option("--pooling", a->pooling,
                  "mean | cls (--pairs; default: the model's 1_Pooling/config.json, else mean)");
  cmd->add_option("--temperature", a->temperature, "InfoNCE temperature tau (--pairs)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-j,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--json", a->json,
                "Print one JSON object: {\"results\": [{\"model\", \"text\", \"ppl\", \"nll\" (mean per scored "
                "token), \"tokens\" (scored)}, ...]}");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar and no summary line");
  cmd->callback([a, &exit_code] { exit_code = run_eval(*a); });
}

}  // namespace alloy
