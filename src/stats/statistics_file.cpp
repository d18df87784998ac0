#include "stats/statistics_file.h"

#include <cstdio>

#include "io/checkpoint.h"
#include "model/decoder.h"
#include "model/encoder.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "stats/model_statistics.h"
#include "stats/pair_statistics.h"
#include "stats/probe_chunks.h"
#include "stats/probe_kind.h"
#include "stats/probe_pairs.h"
#include "tensor/dtype.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;

const char* stats_kind_name(StatsKind kind) { return kind == StatsKind::Gram ? "gram" : "fisher"; }

namespace {

// A decoder's statistics on probe text; `metadata` gets how the text was cut.
Statistics decoder_statistics(const std::shared_ptr<const Checkpoint>& checkpoint, const fs::path& probe,
                              const StatsSettings& settings, std::map<std::string, std::string>& metadata) {
  CheckpointWeights weights(checkpoint);
  DecoderLM<float> model(decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight")), weights);
  std::vector<TokenBatch> chunks = load_probe_chunks(checkpoint->dir(), probe, settings.ctx, settings.samples);
  metadata["alloy.probe_ctx"] = std::to_string(settings.ctx);
  metadata["alloy.chunks"] = std::to_string(chunks.size());
  return settings.kind == StatsKind::Gram ? gram_statistics(model, chunks) : fisher_statistics(model, chunks);
}

// An encoder's statistics on probe pairs. The checkpoint's tensors the loss never reads (an MLM
// head, a pooler) get Fisher values of exactly 0, which is their gradient, so a Fisher merge
// still finds a value for every tensor it merges.
Statistics encoder_statistics(const std::shared_ptr<const Checkpoint>& checkpoint, const fs::path& probe,
                              const StatsSettings& settings, std::map<std::string, std::string>& metadata) {
  CheckpointWeights weights(checkpoint);
  const Encoder<float> model(
      encoder_config_from_json(checkpoint->config(), [&](const std::string& n) { return checkpoint->has(n); }),
      weights);
  const PairProbe pairs = load_probe_pairs(checkpoint->dir(), model.config(), probe, settings.pair_batch,
                                           settings.samples);
  metadata["alloy.pair_batch"] = std::to_string(settings.pair_batch);
  metadata["alloy.pairs"] = std::to_string(pairs.total_pairs());
  metadata["alloy.temperature"] = cat(pairs.temperature);
  if (settings.kind == StatsKind::Gram) return pair_gram_statistics(model, pairs);
  Statistics stats = pair_fisher_statistics(model, pairs);
  for (const std::string& name : checkpoint->tensor_names()) {
    const TensorView view = checkpoint->tensor(name);
    if (!traits(view.dtype).is_float || stats.count(kFisherPrefix + name)) continue;
    stats[kFisherPrefix + name] = StatTensor{view.shape, std::vector<float>(static_cast<size_t>(numel(view.shape)), 0.0f)};
  }
  return stats;
}

}  // namespace

void compute_statistics_file(const fs::path& model_dir, const fs::path& probe, const StatsSettings& settings,
                             const fs::path& out) {
  try {
    auto checkpoint = Checkpoint::open(model_dir);
    if (!checkpoint->has_config()) fail("no config.json: statistics need the model's configuration");
    check_probe_fits_model(checkpoint->config(), probe);
    std::map<std::string, std::string> metadata{{"alloy.statistics", stats_kind_name(settings.kind)},
                                                {"alloy.probe", probe.string()}};
    const Statistics stats = is_encoder_config(checkpoint->config())
                                 ? encoder_statistics(checkpoint, probe, settings, metadata)
                                 : decoder_statistics(checkpoint, probe, settings, metadata);
    fs::path tmp = out;
    tmp += ".partial";
    write_statistics(tmp, stats, metadata);
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
  if (is_pair_probe(probe)) h = fnv1a(h, cat("pair_batch=", settings.pair_batch));
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
