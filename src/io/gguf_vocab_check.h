// The tokenizer arrays of a GGUF model input checked against each other and the embedding, as
// llama.cpp's loader relies on them: tokenizer.ggml.tokens (strings), scores (f32) and token_type
// (i32) one per token, merges (strings), and token_embd.weight / output.weight one row per token.
// llama.cpp reads scores and types by token id without a length check, and alloy copies these keys
// into a merged GGUF unchanged, so a file that breaks them is refused when it is opened.
#pragma once
#include "io/gguf_model.h"

namespace alloy {

// Throws Error naming the key or tensor and both counts; a model without tokenizer.ggml.tokens
// is not checked.
void check_gguf_vocabulary(const GgufModel& model);

}  // namespace alloy
