// Probe text as the engine's input: the text tokenized once with a leading BOS, as alloy eval
// does, cut into consecutive chunks of ctx tokens whose first token is BOS; every next token of a
// chunk is scored. Learning methods read probe text only; evaluation reads other text.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "model/decoder.h"

namespace alloy {

// `tokens` includes the leading BOS. A partial last chunk is kept when it has at least 2 tokens
// (short probe files still count). max_chunks <= 0: all. Throws Error when there is no chunk.
std::vector<TokenBatch> probe_chunks(std::span<const int32_t> tokens, int ctx, int32_t bos, int64_t max_chunks);

// Reads and tokenizes `probe` with the tokenizer in `model_dir`, then cuts it as above. Errors
// name the probe file.
std::vector<TokenBatch> load_probe_chunks(const std::filesystem::path& model_dir, const std::filesystem::path& probe,
                                          int ctx, int64_t max_chunks);

}  // namespace alloy
