// Runs models over texts and fills the perplexity matrix: each model is opened from its
// directory (weights through the checkpoint reader, tokenizer from its own files), each text is
// tokenized once per distinct tokenizer, and scored by the llama.cpp rule (perplexity.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/eval_report.h"

namespace alloy {

struct EvalRequest {
  std::vector<std::string> models;  // model directories
  std::vector<std::string> texts;   // text files
  std::map<size_t, size_t> specialists;  // text index -> model index
  int ctx = 128;
  int batch = 0;  // chunks per forward pass; 0: automatic
  // (model index, text index, chunks done, chunks in this text)
  std::function<void(size_t, size_t, int64_t, int64_t)> progress;
};

struct EvalStats {
  int64_t tokens_run = 0;  // tokens through the forward pass
  double seconds = 0;
};

EvalReport evaluate(const EvalRequest& request, EvalStats* stats = nullptr);

}  // namespace alloy
