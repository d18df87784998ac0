#include "io/gguf_vocab_check.h"

#include <string>
#include <utility>

#include "util/error.h"

namespace alloy {

namespace {

// The element count of array `key` of `element` type; nullopt when the key is absent.
std::optional<uint64_t> array_count(const GgufModel& model, const std::string& key, GgufType element) {
  const GgufValue* v = model.find_value(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::ARRAY || v->element_type != element)
    fail("metadata key '", key, "' is ",
         v->type == GgufType::ARRAY ? cat("an array of ", gguf_type_name(v->element_type))
                                    : std::string(gguf_type_name(v->type)),
         ", not an array of ", gguf_type_name(element));
  return v->count;
}

}  // namespace

void check_gguf_vocabulary(const GgufModel& model) {
  array_count(model, "tokenizer.ggml.merges", GgufType::STRING);
  const std::optional<uint64_t> tokens = array_count(model, "tokenizer.ggml.tokens", GgufType::STRING);
  if (!tokens) return;
  for (const auto& [key, element] : {std::pair{"tokenizer.ggml.scores", GgufType::F32},
                                     std::pair{"tokenizer.ggml.token_type", GgufType::I32}}) {
    if (const std::optional<uint64_t> n = array_count(model, key, element); n && *n != *tokens)
      fail("metadata key '", key, "' has ", *n, " entries for the ", *tokens, " tokens of tokenizer.ggml.tokens");
  }
  for (const char* name : {"token_embd.weight", "output.weight"}) {
    const GgufTensor* t = model.find_tensor(name);
    if (t && t->info->shape.size() == 2 && static_cast<uint64_t>(t->info->shape.front()) != *tokens)
      fail("tensor '", name, "' has ", t->info->shape.front(), " rows for the ", *tokens,
           " tokens of tokenizer.ggml.tokens (one row per token)");
  }
}

}  // namespace alloy
