// Permuted embeddings (spec §5.2): each model's embedding or LM-head matrix laid out in the output
// vocabulary — its own row where it has the token (unless the token's setting forces another),
// else the token's default row (another model's row, the mean over the models that have it, or
// zero) — and the padding rows past the vocabulary set to the mean of the vocabulary's rows. The
// merge method then merges these aligned matrices like any other tensor.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"
#include "vocab/output_vocabulary.h"

namespace alloy {

// A matrix the program owns, and a view of it (not file-mapped).
struct PermutedRows {
  std::vector<std::byte> bytes;
  TensorView view;
};

// inputs[m]: model m's matrix for this tensor (same order as vocab.old_ids), nullopt where the model
// has none. Each result is in its input's dtype (f32 for a quantised GGUF input), padded_size rows;
// nullptr where the input is absent. Computed rows (means) are computed in double and rounded once.
// Throws Error naming `tensor` and the model for a matrix that is not 2-D, rows of different
// lengths, or a row the vocabulary needs past the matrix's end.
std::vector<std::shared_ptr<const PermutedRows>> permute_embeddings(const OutputVocabulary& vocab,
                                                                    const std::vector<std::optional<TensorView>>& inputs,
                                                                    const std::vector<std::string>& labels,
                                                                    const std::string& tensor);

}  // namespace alloy
