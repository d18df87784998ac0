#include "search/encoder_grouping.h"

#include "util/error.h"

namespace alloy {

namespace {

// The embedding group's filters: the embeddings, and the tensors no loss on embeddings reads.
std::vector<std::string> embedding_filters(const EncoderConfig& config) {
  return {config.prefix + "embeddings.", "pooler.", "cls.", "lm_head."};
}

// The layer whose prefix `tensor` starts with (the prefix ends in a dot, so layer 1's does not
// match layer 11's tensors); -1 when none does.
int64_t layer_of(const EncoderConfig& config, const std::string& tensor) {
  for (int64_t l = 0; l < config.num_layers; ++l)
    if (tensor.rfind(encoder_layer_prefix(config, l), 0) == 0) return l;
  return -1;
}

int embedding_group(const EncoderConfig& config, const std::string& tensor) {
  for (const std::string& f : embedding_filters(config))
    if (tensor.find(f) != std::string::npos) return 0;
  fail("tensor ", tensor, " is in no group of an encoder (embeddings, encoder layers, pooler, MLM head)");
}

// Layer kinds, by what follows the layer prefix.
const std::vector<std::vector<std::string>> kKinds = {
    {"attention.self.", "attention.output.dense."},
    {"intermediate.", "output.dense."},
    {"attention.output.LayerNorm.", "output.LayerNorm."},
};
const char* const kKindNames[] = {"attention", "mlp", "norms"};

}  // namespace

TensorGrouping encoder_groups_by_layer(const EncoderConfig& config) {
  TensorGrouping g;
  g.count = config.num_layers + 1;
  g.group_of = [config](const std::string& t) {
    const int64_t l = layer_of(config, t);
    return l >= 0 ? static_cast<int>(l + 1) : embedding_group(config, t);
  };
  g.names.push_back("embed");
  g.filters.push_back(embedding_filters(config));
  for (int64_t l = 0; l < config.num_layers; ++l) {
    g.names.push_back(cat("layer ", l));
    g.filters.push_back({encoder_layer_prefix(config, l)});
  }
  return g;
}

TensorGrouping encoder_groups_by_layer_and_kind(const EncoderConfig& config) {
  TensorGrouping g;
  g.count = 3 * config.num_layers + 1;
  g.group_of = [config](const std::string& t) {
    const int64_t l = layer_of(config, t);
    if (l < 0) return embedding_group(config, t);
    const std::string rest = t.substr(encoder_layer_prefix(config, l).size());
    for (size_t kind = 0; kind < kKinds.size(); ++kind)
      for (const std::string& start : kKinds[kind])
        if (rest.rfind(start, 0) == 0) return static_cast<int>(1 + 3 * l + static_cast<int64_t>(kind));
    fail("tensor ", t, " is neither attention, MLP nor a LayerNorm of its layer: per-layer-kind groups do not cover it");
  };
  g.names.push_back("embed");
  g.filters.push_back(embedding_filters(config));
  for (int64_t l = 0; l < config.num_layers; ++l)
    for (size_t kind = 0; kind < kKinds.size(); ++kind) {
      g.names.push_back(cat("layer ", l, " ", kKindNames[kind]));
      std::vector<std::string> filters;
      for (const std::string& start : kKinds[kind]) filters.push_back(encoder_layer_prefix(config, l) + start);
      g.filters.push_back(filters);
    }
  return g;
}

}  // namespace alloy
