// The chunking rule of llama.cpp's perplexity tool, so that alloy's figures compare with its own:
// the whole text is tokenized once with a leading BOS and cut into consecutive chunks of `ctx`
// tokens (a partial last chunk is dropped); each chunk's first token is replaced by BOS, and the
// tokens at positions ctx/2+1 .. ctx-1 are scored, each predicted from the chunk's tokens before it.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace alloy {

// One chunk as a next-token problem: targets[t] is the token that position t must predict, or -1
// where nothing is scored.
struct ScoredChunk {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
};

inline constexpr int32_t kNotScored = -1;

// `tokens` is the tokenized text including its leading BOS. Throws Error when ctx < 4.
std::vector<ScoredChunk> perplexity_chunks(std::span<const int32_t> tokens, int ctx, int32_t bos);

// Tokens scored per chunk of `ctx` tokens: ctx - 1 - ctx/2.
inline int scored_per_chunk(int ctx) { return ctx - 1 - ctx / 2; }

}  // namespace alloy
