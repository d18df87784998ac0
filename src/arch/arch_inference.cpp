// Inference tables and the name splitting they rely on. Patterns are globs ('*' = any run).
#include "arch/arch_inference.h"

#include <algorithm>
#include <array>

#include "arch/architecture.h"

namespace alloy {
namespace {

// Loose weights used after the last layer: final norms, then heads.
constexpr std::array kPostWeightPatterns = {
    // final norms
    "model.norm.*", "norm.*", "transformer.ln_f.*", "ln_f.*", "gpt_neox.final_layer_norm.*",
    "model.final_layernorm.*", "model.decoder.final_layer_norm.*", "model.decoder.layer_norm.*",
    "transformer.norm_f.*", "backbone.norm_f.*", "model.norm_f.*", "transformer.final_layernorm.*",
    "language_model.model.norm.*", "model.language_model.norm.*", "output_norm.*",  // llama.cpp's
    // heads
    "lm_head.*", "*.lm_head.*", "embed_out.*", "output.*", "score.*", "classifier.*", "cls.*",
    "qa_outputs.*", "pooler.*", "*.pooler.*", "lm_head", "v_head.*",
};

// Token embeddings and LM heads; position and token-type embeddings are deliberately absent.
constexpr std::array kEmbeddingPatterns = {
    "*embed_tokens.weight", "wte.weight",       "*.wte.weight",     "*word_embeddings.weight",
    "*embed_in.weight",     "*tok_embeddings.weight", "shared.weight", "lm_head.weight",
    "*.lm_head.weight",     "embed_out.weight", "output.weight",    "cls.predictions.decoder.weight",
    "backbone.embeddings.weight", "token_embd.weight",
};

constexpr std::array<TieRule, 11> kTieRules = {{
    {"lm_head.weight", "model.embed_tokens.weight"},
    {"lm_head.weight", "transformer.wte.weight"},
    {"lm_head.weight", "wte.weight"},
    {"lm_head.weight", "model.decoder.embed_tokens.weight"},
    {"lm_head.weight", "transformer.word_embeddings.weight"},
    {"lm_head.weight", "transformer.embd.wte.weight"},
    {"lm_head.weight", "backbone.embeddings.weight"},
    {"embed_out.weight", "gpt_neox.embed_in.weight"},
    {"output.weight", "tok_embeddings.weight"},
    {"output.weight", "token_embd.weight"},  // llama.cpp's names
    {"cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"},
}};

template <class Patterns>
bool any_match(const Patterns& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](std::string_view p) { return glob_match(p, name); });
}

}  // namespace

std::optional<LayerSplit> split_at_layer_index(std::string_view name) {
  size_t from = 0;
  while (true) {
    size_t dot = name.find('.', from);
    if (dot == std::string_view::npos) return std::nullopt;
    size_t end = dot + 1;
    while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
    size_t digits = end - dot - 1;
    if (digits > 0 && end < name.size() && name[end] == '.') {
      // The first ".<digits>." decides; a malformed number there means "no layer index".
      if (digits > 9 || (digits > 1 && name[dot + 1] == '0')) return std::nullopt;
      int index = 0;
      for (size_t i = dot + 1; i < end; ++i) index = index * 10 + (name[i] - '0');
      return LayerSplit{name.substr(0, dot + 1), index, name.substr(end + 1)};
    }
    from = dot + 1;
  }
}

std::string layer_template(std::string_view prefix, std::string_view rest) {
  std::string s;
  s.reserve(prefix.size() + kLayerIndex.size() + 1 + rest.size());
  s.append(prefix).append(kLayerIndex).append(".").append(rest);
  return s;
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative wildcard match with single-star backtracking.
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool looks_like_post_weight(std::string_view name) { return post_weight_rank(name) >= 0; }

int post_weight_rank(std::string_view name) {
  for (size_t i = 0; i < kPostWeightPatterns.size(); ++i)
    if (glob_match(kPostWeightPatterns[i], name)) return static_cast<int>(i);
  return -1;
}

bool looks_like_embedding(std::string_view name) { return any_match(kEmbeddingPatterns, name); }

std::span<const TieRule> tie_rules() { return kTieRules; }

}  // namespace alloy
