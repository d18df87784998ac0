#include "lora/thin_svd.h"

#include <algorithm>
#include <climits>
#include <cstddef>

#include "util/error.h"

extern "C" void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
                        const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork,
                        int* info, size_t jobz_len);

namespace alloy {

ThinSvd thin_svd(std::vector<double> a, int64_t rows, int64_t cols) {
  ThinSvd out;
  out.rows = rows;
  out.cols = cols;
  out.k = std::min(rows, cols);
  if (out.k == 0) return out;
  if (rows > INT_MAX / 2 || cols > INT_MAX / 2 || rows * cols > INT_MAX)
    fail("SVD of a ", rows, "x", cols, " matrix: too large for LAPACK's 32-bit dimensions");
  // LAPACK is column-major: it sees aᵀ [cols, rows] = U' S V'ᵀ, so a = V' S U'ᵀ. V'ᵀ (k x rows,
  // column-major) is then a's U in row-major order, and U' (cols x k, column-major) a's Vᵀ.
  const int m = static_cast<int>(cols), n = static_cast<int>(rows), k = static_cast<int>(out.k);
  out.s.resize(out.k);
  out.u.resize(static_cast<size_t>(rows * out.k));
  out.vt.resize(static_cast<size_t>(out.k * cols));
  std::vector<int> iwork(static_cast<size_t>(8 * out.k));
  int info = 0, lwork = -1;
  double query = 0;
  dgesdd_("S", &m, &n, a.data(), &m, out.s.data(), out.vt.data(), &m, out.u.data(), &k, &query, &lwork, iwork.data(),
          &info, 1);
  if (info != 0) fail("SVD of a ", rows, "x", cols, " matrix: LAPACK dgesdd workspace query failed (info ", info, ")");
  lwork = static_cast<int>(query);
  std::vector<double> work(static_cast<size_t>(std::max(lwork, 1)));
  dgesdd_("S", &m, &n, a.data(), &m, out.s.data(), out.vt.data(), &m, out.u.data(), &k, work.data(), &lwork,
          iwork.data(), &info, 1);
  if (info != 0)
    fail("SVD of a ", rows, "x", cols, " matrix: LAPACK dgesdd failed (info ", info,
         info > 0 ? ": did not converge" : ": bad argument", ")");
  return out;
}

}  // namespace alloy
