// Coefficient groups of an embedding encoder (tensor_grouping.h does a decoder's): the embeddings,
// then each encoder layer, or each layer split by kind. The tensors the embedding loss never reads
// (an MLM head `cls.`/`lm_head.`, a pooler) have no gradient, so the search cannot tell their
// weight; they are written with the embedding group's (a BERT MLM decoder is tied to the
// embeddings), so the tuned recipe gives every tensor of the checkpoint a weight.
#pragma once
#include "model/encoder_config.h"
#include "search/tensor_grouping.h"

namespace alloy {

// Group 0 the embeddings (and the unread head and pooler), 1 + k encoder layer k.
TensorGrouping encoder_groups_by_layer(const EncoderConfig& config);

// Group 0 as above; 1 + 3k + {0, 1, 2} layer k's attention (`attention.self.`,
// `attention.output.dense.`), MLP (`intermediate.`, `output.dense.`) and LayerNorms
// (`attention.output.LayerNorm.`, `output.LayerNorm.`).
TensorGrouping encoder_groups_by_layer_and_kind(const EncoderConfig& config);

}  // namespace alloy
