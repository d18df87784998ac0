// The thin singular value decomposition of a dense float64 matrix, through LAPACK's dgesdd (the
// divide-and-conquer driver, in the OpenBLAS alloy links): what LoRA extraction truncates.
#pragma once
#include <cstdint>
#include <vector>

namespace alloy {

struct ThinSvd {
  int64_t rows = 0, cols = 0, k = 0;  // k = min(rows, cols)
  std::vector<double> u;   // [rows, k] row-major, orthonormal columns
  std::vector<double> s;   // [k], descending, >= 0
  std::vector<double> vt;  // [k, cols] row-major, orthonormal rows
};

// `a` is [rows, cols] row-major. Throws Error when LAPACK reports failure or a dimension exceeds
// LAPACK's 32-bit integers.
ThinSvd thin_svd(std::vector<double> a, int64_t rows, int64_t cols);

}  // namespace alloy
