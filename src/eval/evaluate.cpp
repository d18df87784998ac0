#include "eval/evaluate.h"

#include <chrono>
#include <filesystem>

#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace {

namespace fs = std::filesystem;

// The bytes that decide how a model tokenizes, so that fine-tunes sharing a tokenizer share the
// texts' token ids.
std::string tokenizer_identity(const fs::path& dir) {
  for (const char* name : {"tokenizer.json", "tokenizer.model"})
    if (fs::exists(dir / name)) return std::string(name) + '\0' + read_whole_file(dir / name, "tokenizer");
  return {};
}

}  // namespace

EvalReport evaluate(const EvalRequest& request, EvalStats* stats) {
  if (request.models.empty()) fail("no model to evaluate");
  if (request.texts.empty()) fail("no text to evaluate on (--text FILE)");
  EvalReport report;
  report.models = request.models;
  report.texts = request.texts;
  report.specialists = request.specialists;
  report.cells.resize(request.models.size() * request.texts.size());

  std::vector<std::string> texts;
  for (const auto& t : request.texts) texts.push_back(read_whole_file(t, "text"));
  std::map<std::string, std::vector<std::vector<int32_t>>> token_cache;  // tokenizer identity -> per text
  const auto start = std::chrono::steady_clock::now();
  int64_t tokens_run = 0;

  for (size_t m = 0; m < request.models.size(); ++m) {
    const std::string& path = request.models[m];
    try {
      auto checkpoint = Checkpoint::open(path);
      if (!checkpoint->has_config()) fail("no config.json: alloy eval needs the model's configuration");
      CheckpointWeights weights(checkpoint);
      DecoderLM<float> model(decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight")),
                             weights);
      std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(checkpoint->dir());
      const std::optional<int32_t> bos = tokenizer->bos_id();
      if (!bos) fail("its tokenizer has no BOS token, which the perplexity rule needs");
      auto& tokens = token_cache[tokenizer_identity(checkpoint->dir())];
      if (tokens.empty())
        for (const std::string& text : texts) {
          std::vector<int32_t> ids{*bos};
          std::vector<int32_t> body = tokenizer->encode(text);
          ids.insert(ids.end(), body.begin(), body.end());
          tokens.push_back(std::move(ids));
        }
      for (size_t t = 0; t < texts.size(); ++t) {
        PerplexityOptions options;
        options.ctx = request.ctx;
        options.batch = request.batch;
        if (request.progress)
          options.progress = [&, m, t](int64_t done, int64_t total) { request.progress(m, t, done, total); };
        try {
          report.cells[m * texts.size() + t] = perplexity(model, tokens[t], *bos, options);
        } catch (const Error& e) {
          rethrow_with("text " + request.texts[t], e);
        }
        tokens_run += static_cast<int64_t>(tokens[t].size() / request.ctx) * request.ctx;
      }
    } catch (const Error& e) {
      rethrow_with("model " + path, e);
    }
  }
  if (stats) {
    stats->tokens_run = tokens_run;
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return report;
}

}  // namespace alloy
