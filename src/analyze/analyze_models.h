// analyze_models: the task-vector geometry of fine-tunes against their base, streamed tensor by
// tensor like a merge: every float tensor of the base is read with the same tensor of each model,
// and its sums are added to its layer's row, its kind's row and the whole model's. Memory is a few
// blocks of elements per thread, whatever the models' size.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analyze/geometry_sums.h"

namespace alloy {

struct AnalyzeRequest {
  std::string base;                 // model directory or .safetensors file
  std::vector<std::string> models;  // the fine-tunes, at least one
  int threads = 1;
  // Called after each tensor with (tensors done, tensors in all); may be empty.
  std::function<void(size_t, size_t)> progress;
};

struct GroupGeometry {
  std::string label;  // "pre", "0", "1", ..., "post"; a kind's name; "model"
  int tensors = 0;
  GeometrySums sums;
};

struct GeometryReport {
  std::string base;                  // as given
  std::vector<std::string> models;   // as given
  std::vector<GroupGeometry> layers;  // pre-layer weights, layer 0..L-1, post-layer weights (rows with tensors)
  std::vector<GroupGeometry> kinds;   // one per tensor kind, in module order
  GroupGeometry whole;                // every analysed tensor
  std::vector<std::string> skipped;   // tensors of integer or bool dtype (no task vector), by name
};

// Throws Error naming the model and tensor when the models' tensor sets, shapes or dtypes (float
// or not) differ from the base's, before any arithmetic; and for NaN or Inf values.
GeometryReport analyze_models(const AnalyzeRequest& request);

}  // namespace alloy
