#include "eval/evaluate_pairs.h"

#include <algorithm>
#include <cstdio>

#include "eval/pairs.h"
#include "eval/pair_tokens.h"
#include "io/checkpoint.h"
#include "model/pair_loss.h"
#include "model/weight_source.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

Pooling pooling_from_name(const std::string& name) {
  if (name == "mean") return Pooling::kMean;
  if (name == "cls") return Pooling::kCls;
  fail("--pooling: '", name, "' is not a pooling (mean, cls)");
}

std::optional<Pooling> sentence_transformers_pooling(const fs::path& model_dir) {
  const fs::path file = model_dir / "1_Pooling" / "config.json";
  if (!fs::exists(file)) return std::nullopt;
  const nlohmann::json json = read_json_file(file);
  if (!json.is_object()) fail(file.string(), ": expected an object");
  std::optional<Pooling> found;
  for (const auto& [key, value] : json.items()) {
    if (key.rfind("pooling_mode_", 0) != 0 || !value.is_boolean() || !value.get<bool>()) continue;
    std::optional<Pooling> mode;
    if (key == "pooling_mode_mean_tokens") mode = Pooling::kMean;
    if (key == "pooling_mode_cls_token") mode = Pooling::kCls;
    if (!mode) fail(file.string(), ": '", key, "' is not supported (mean_tokens and cls_token are); pass --pooling");
    if (found) fail(file.string(), ": more than one pooling_mode_* is true; pass --pooling");
    found = mode;
  }
  if (!found) fail(file.string(), ": no pooling_mode_* is true; pass --pooling");
  return found;
}

namespace {

PairsCell score_file(const Encoder<float>& model, const PairTokenizer& tokenizer, const std::vector<TextPair>& pairs,
                     const PoolingOptions& pooling, double temperature, int64_t batch) {
  PairsCell cell;
  for (size_t start = 0; start < pairs.size(); start += batch) {
    const size_t end = std::min(pairs.size(), start + static_cast<size_t>(batch));
    std::vector<std::vector<int32_t>> q, p;
    for (size_t i = start; i < end; ++i) {
      q.push_back(tokenizer.encode(pairs[i].query));
      p.push_back(tokenizer.encode(pairs[i].positive));
    }
    const InfoNceResult r = pair_info_nce(model, pair_batch(model.config(), q, p), pooling, temperature);
    const int64_t n = static_cast<int64_t>(end - start);
    cell.loss_sum += r.loss * double(n);
    cell.correct += r.correct;
    cell.count += n;
  }
  return cell;
}

}  // namespace

PairsReport evaluate_pairs(const PairsRequest& request) {
  if (request.models.empty()) fail("no model to evaluate");
  if (request.pairs.empty()) fail("no pairs file to evaluate on (--pairs FILE.jsonl)");
  if (!(request.temperature > 0)) fail("--temperature must be positive, got ", request.temperature);
  const int64_t batch = request.batch > 0 ? request.batch : 32;
  PairsReport report;
  report.models = request.models;
  report.pairs = request.pairs;
  report.cells.resize(request.models.size() * request.pairs.size());
  std::vector<std::vector<TextPair>> files;
  for (const std::string& f : request.pairs) files.push_back(read_pairs(f));

  for (size_t m = 0; m < request.models.size(); ++m) {
    try {
      auto checkpoint = Checkpoint::open(request.models[m]);
      if (!checkpoint->has_config()) fail("no config.json: alloy eval needs the model's configuration");
      if (!is_encoder_config(checkpoint->config()))
        fail("--pairs evaluates text-embedding encoders (model_type bert, roberta, xlm-roberta); config.json has ",
             checkpoint->config().value("model_type", nlohmann::json("no model_type")).dump());
      CheckpointWeights weights(checkpoint);
      const Encoder<float> model(
          encoder_config_from_json(checkpoint->config(), [&](const std::string& n) { return checkpoint->has(n); }),
          weights);
      const PairTokenizer tokenizer(checkpoint->dir(), model.config());
      PoolingOptions pooling;
      pooling.pooling = request.pooling ? *request.pooling
                                        : sentence_transformers_pooling(checkpoint->dir()).value_or(Pooling::kMean);
      for (size_t f = 0; f < files.size(); ++f) {
        try {
          report.cells[m * files.size() + f] =
              score_file(model, tokenizer, files[f], pooling, request.temperature, batch);
        } catch (const Error& e) {
          rethrow_with("pairs " + request.pairs[f], e);
        }
      }
    } catch (const Error& e) {
      rethrow_with("model " + request.models[m], e);
    }
  }
  return report;
}

std::string pairs_table(const PairsReport& report) {
  size_t width = 5;
  for (const auto& m : report.models) width = std::max(width, m.size());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-24s %10s %9s %7s\n", static_cast<int>(width), "model", "pairs", "loss",
                "accuracy", "count");
  std::string out = line;
  for (size_t m = 0; m < report.models.size(); ++m)
    for (size_t f = 0; f < report.pairs.size(); ++f) {
      const PairsCell& c = report.at(m, f);
      std::snprintf(line, sizeof line, "%-*s  %-24s %10.4f %9.4f %7lld\n", static_cast<int>(width),
                    report.models[m].c_str(), fs::path(report.pairs[f]).filename().string().c_str(), c.loss(),
                    c.accuracy(), static_cast<long long>(c.count));
      out += line;
    }
  return out;
}

nlohmann::json pairs_json(const PairsReport& report) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t m = 0; m < report.models.size(); ++m)
    for (size_t f = 0; f < report.pairs.size(); ++f) {
      const PairsCell& c = report.at(m, f);
      results.push_back({{"model", report.models[m]},
                         {"pairs", report.pairs[f]},
                         {"loss", c.loss()},
                         {"accuracy", c.accuracy()},
                         {"count", c.count}});
    }
  return {{"results", results}};
}

}  // namespace alloy
