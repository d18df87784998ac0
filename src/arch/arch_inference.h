// Name-based rules for describing a checkpoint without (or beyond) a description: where the
// layer index sits in a tensor name, which loose weights come after the layers, which are token
// embeddings or LM heads, and which heads may be tied to which embeddings. The rules are tables
// in arch_inference.cpp; adding a model family means adding rows there.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace alloy {

// A tensor name split at its first ".<digits>." component:
// "model.layers.3.mlp.up_proj.weight" -> {"model.layers.", 3, "mlp.up_proj.weight"}.
struct LayerSplit {
  std::string_view prefix;  // up to and including the dot before the index
  int index = 0;
  std::string_view rest;    // after the dot that follows the index
};
// nullopt when the name has no such component, or the digits are not a plain decimal number
// (leading zeros, more than 9 digits).
std::optional<LayerSplit> split_at_layer_index(std::string_view name);

// prefix + "${layer_index}." + rest
std::string layer_template(std::string_view prefix, std::string_view rest);

// Glob match where '*' matches any run of characters (dots included); nothing else is special.
bool glob_match(std::string_view pattern, std::string_view name);

// A loose weight (outside the layers) used after the layers: final norms and heads.
bool looks_like_post_weight(std::string_view name);
// Position of the first post-weight pattern `name` matches (norms rank before heads), or -1.
int post_weight_rank(std::string_view name);
// A token embedding or LM head (rows indexed by vocabulary), not a position embedding.
bool looks_like_embedding(std::string_view name);

// An LM head that, when absent, is read from a token embedding of the same checkpoint.
struct TieRule {
  std::string_view head;
  std::string_view embedding;
};
std::span<const TieRule> tie_rules();

}  // namespace alloy
