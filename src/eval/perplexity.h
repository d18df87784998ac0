// Perplexity of a causal LM on a text, scored by llama.cpp's chunking rule (perplexity_chunks.h).
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "eval/eval_report.h"
#include "model/decoder.h"

namespace alloy {

struct PerplexityOptions {
  int ctx = 128;
  int batch = 0;  // chunks per forward pass; 0 picks one that keeps the activations near 256 MiB
  // Called after each forward pass with the chunks done so far and the total.
  std::function<void(int64_t done, int64_t total)> progress;
};

// `tokens` is the tokenized text with its leading BOS. Throws Error when the text has fewer
// than ctx tokens (no whole chunk), naming the counts.
PerplexityCell perplexity(const DecoderLM<float>& model, std::span<const int32_t> tokens, int32_t bos,
                          const PerplexityOptions& options);

// The chunks per forward pass that `batch` = 0 picks for this model and context.
int default_chunks_per_pass(const ModelConfig& config, int ctx);

}  // namespace alloy
