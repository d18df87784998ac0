#include "stats/statistics_file.h"

#include <cstdio>

#include "io/checkpoint.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "stats/model_statistics.h"
#include "stats/probe_chunks.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

const char* stats_kind_name(StatsKind kind) { return kind == StatsKind::Gram ? "gram" : "fisher"; }

void compute_statistics_file(const fs::path& model_dir, const fs::path& probe, const StatsSettings& settings,
                             const fs::path& out) {
  try {
    auto checkpoint = Checkpoint::open(model_dir);
    if (!checkpoint->has_config()) fail("no config.json: statistics need the model's configuration");
    CheckpointWeights weights(checkpoint);
    DecoderLM<float> model(decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight")),
                           weights);
    std::vector<TokenBatch> chunks = load_probe_chunks(checkpoint->dir(), probe, settings.ctx, settings.samples);
    Statistics stats = settings.kind == StatsKind::Gram ? gram_statistics(model, chunks)
                                                        : fisher_statistics(model, chunks);
    fs::path tmp = out;
    tmp += ".partial";
    write_statistics(tmp, stats,
                     {{"alloy.statistics", stats_kind_name(settings.kind)},
                      {"alloy.probe", probe.string()},
                      {"alloy.probe_ctx", std::to_string(settings.ctx)},
                      {"alloy.chunks", std::to_string(chunks.size())}});
    fs::rename(tmp, out);
  } catch (const Error& e) {
    rethrow_with("model " + model_dir.string(), e);
  }
}

namespace {

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;  // a separator, so ("ab","c") and ("a","bc") differ
}

}  // namespace

fs::path statistics_cache_file(const fs::path& model_dir, const fs::path& probe, const StatsSettings& settings,
                               const fs::path& cache_dir) {
  const std::string text = read_whole_file(probe, "probe");
  std::error_code ec;
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, fs::weakly_canonical(model_dir, ec).string());
  h = fnv1a(h, text);
  h = fnv1a(h, cat(stats_kind_name(settings.kind), " ctx=", settings.ctx, " samples=", settings.samples));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return cache_dir / cat(stats_kind_name(settings.kind), "-", hex, ".safetensors");
}

fs::path cached_statistics(const fs::path& model_dir, const fs::path& probe, const StatsSettings& settings,
                           const fs::path& cache_dir, const std::function<void(const std::string&)>& log) {
  const fs::path file = statistics_cache_file(model_dir, probe, settings, cache_dir);
  std::error_code ec;
  if (fs::exists(file, ec)) return file;
  fs::create_directories(cache_dir, ec);
  if (ec) fail("statistics directory ", cache_dir.string(), ": cannot create it (", ec.message(), ")");
  if (log) log(cat("computing ", stats_kind_name(settings.kind), " statistics of ", model_dir.string(), " on ",
                   probe.string(), " -> ", file.string()));
  compute_statistics_file(model_dir, probe, settings, file);
  return file;
}

}  // namespace alloy
