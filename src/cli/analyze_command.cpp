// `alloy analyze BASE MODEL...`: the geometry of the models' task vectors (model − base) per layer
// and per tensor kind, as a table or --json, optionally an SVG heatmap, and which merge method the
// numbers favour. Reads the models tensor by tensor, like a merge.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "analyze/analyze_models.h"
#include "analyze/geometry_report.h"
#include "analyze/geometry_svg.h"
#include "cli/commands.h"
#include "util/error.h"

namespace alloy {

namespace {

struct AnalyzeArgs {
  std::string base;
  std::vector<std::string> models;
  std::string svg;
  bool json = false;
  bool quiet = false;
  int threads = 0;
};

void write_svg(const std::string& path, const std::string& svg) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("--svg: cannot create ", path);
  out << svg;
  out.close();
  if (!out) fail("--svg: cannot write ", path);
}

int run_analyze(const AnalyzeArgs& a) {
  AnalyzeRequest request{a.base, a.models, a.threads, {}};
  if (request.threads <= 0) request.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const bool progress = !a.quiet && ::isatty(STDERR_FILENO);
  if (progress)
    request.progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\r  tensor %zu/%zu", done, total);
      std::fflush(stderr);
    };
  GeometryReport report = analyze_models(request);
  if (progress) std::fprintf(stderr, "\r%40s\r", "");
  if (!a.svg.empty()) write_svg(a.svg, geometry_svg(report));
  std::string out = a.json ? geometry_json(report).dump(2) + "\n" : geometry_table(report);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    fail("cannot write to standard output");
  return 0;
}

}  // namespace

void add_analyze_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "analyze",
      "Geometry of the task vectors (model - base) before merging: per layer, per tensor kind and for the "
      "whole model, the norm of each task vector, the cosine between every pair (n/a where one is zero), and "
      "the sign conflict: over every pair of models, among the elements where both task vectors are non-zero, "
      "the share where their signs differ (0.5 for independent signs; per pair in --json). Closes with advice from two whole-model "
      "numbers, the mean pairwise cosine c and the sign conflict s: c >= 0.3 -> linear (averaging); c < 0.1 and "
      "s >= 0.4 -> ties or dare_ties with density 1 - s (to 0.1, within 0.1..0.9); otherwise task_arithmetic. "
      "Integer tensors are skipped. See docs/analyze.md.");
  cmd->add_option("base", a->base, "The base model (directory or .safetensors file)")->required();
  cmd->add_option("models", a->models, "The fine-tuned models, same tensors and shapes as the base")->required();
  cmd->add_flag("--json", a->json,
                "Print one JSON object instead of the table: {base, models, pairs, layers, kinds, model, skipped, "
                "advice}; docs/analyze.md describes every field");
  cmd->add_option("--svg", a->svg, "Also write a heatmap of the cosines (layers x model pairs) to this SVG file");
  cmd->add_option("-j,--threads", a->threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_flag("-q,--quiet", a->quiet, "No progress on standard error");
  cmd->callback([a, &exit_code] { exit_code = run_analyze(*a); });
}

}  // namespace alloy
