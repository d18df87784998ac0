#include "stats/probe_chunks.h"


#include "io/checkpoint.h"
#include "stats/probe_kind.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

std::vector<TokenBatch> probe_chunks(std::span<const int32_t> tokens, int ctx, int32_t bos, int64_t max_chunks) {
  if (ctx < 2) fail("probe_ctx ", ctx, " is too small: a chunk needs at least 2 tokens");
  std::vector<TokenBatch> chunks;
  for (size_t begin = 0; begin + 2 <= tokens.size(); begin += static_cast<size_t>(ctx)) {
    if (max_chunks > 0 && static_cast<int64_t>(chunks.size()) >= max_chunks) break;
    const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(ctx));
    std::vector<int32_t> ids(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                             tokens.begin() + static_cast<std::ptrdiff_t>(end));
    ids[0] = bos;
    const auto len = static_cast<int64_t>(ids.size());
    chunks.push_back(next_token_batch(std::move(ids), 1, len));
  }
  if (chunks.empty()) fail("the probe text has fewer than 2 tokens: nothing to learn from");
  return chunks;
}

std::vector<TokenBatch> load_probe_chunks(const std::filesystem::path& model_dir, const std::filesystem::path& probe,
                                          int ctx, int64_t max_chunks) {
  if (is_pair_probe(probe)) {
    std::error_code ec;
    const std::filesystem::path config = model_dir / "config.json";
    check_probe_fits_model(std::filesystem::exists(config, ec) ? read_json_file(config) : nlohmann::json{}, probe);
  }
  const std::string text = read_whole_file(probe, "probe");
  try {
    std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(model_dir);
    const std::optional<int32_t> bos = tokenizer->bos_id();
    if (!bos) fail("the model's tokenizer has no BOS token, which probe chunks start with");
    std::vector<int32_t> ids{*bos};
    std::vector<int32_t> body = tokenizer->encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    return probe_chunks(ids, ctx, *bos, max_chunks);
  } catch (const Error& e) {
    rethrow_with("probe " + probe.string(), e);
  }
}

}  // namespace alloy
