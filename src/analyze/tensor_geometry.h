// The geometry sums of one tensor's task vectors, streamed: the base and each model are read in
// fixed blocks of elements, converted to f32, differenced and accumulated in f64. Blocks may run
// on several threads; their sums are added in block order, so the result is the same for any
// thread count, and memory stays a few blocks per thread whatever the tensor's size (the mapped
// pages of a block leave the resident set once it is done).
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "analyze/geometry_sums.h"
#include "tensor/tensor_view.h"

namespace alloy {

// Adds n elements of task vectors τ_i = models[i][e] − base[e] (taken in f64) to `sums`.
void accumulate_task_vectors(const float* base, std::span<const float* const> models, size_t n,
                             GeometrySums& sums);

struct TensorInputs {
  std::string name;                 // the tensor's name, for errors
  TensorView base;
  std::vector<TensorView> models;   // same shape as base, any float dtype
  std::vector<std::string> labels;  // base's label, then each model's, for errors
};

// Throws Error naming the tensor and the model for NaN or Inf values and for a shape that differs
// from the base's.
GeometrySums tensor_geometry(const TensorInputs& in, int threads);

}  // namespace alloy
