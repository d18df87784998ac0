#include "model/info_nce.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace alloy {

InfoNceResult info_nce(std::span<const double> queries, std::span<const double> positives, int64_t batch,
                       int64_t dim, double temperature, bool with_gradient) {
  if (batch <= 0 || dim <= 0) fail("InfoNCE: empty batch (", batch, " x ", dim, ")");
  if (static_cast<int64_t>(queries.size()) != batch * dim || static_cast<int64_t>(positives.size()) != batch * dim)
    fail("InfoNCE: ", queries.size(), " query and ", positives.size(), " positive values for ", batch, " x ", dim);
  if (!(temperature > 0)) fail("InfoNCE: the temperature must be positive, got ", temperature);

  auto unit = [&](std::span<const double> x, std::vector<double>& u, std::vector<double>& norm, const char* what) {
    u.assign(x.begin(), x.end());
    norm.resize(batch);
    for (int64_t i = 0; i < batch; ++i) {
      double sq = 0;
      for (int64_t j = 0; j < dim; ++j) sq += x[i * dim + j] * x[i * dim + j];
      norm[i] = std::sqrt(sq);
      if (norm[i] == 0) fail("InfoNCE: ", what, " ", i, " is the zero vector, which has no cosine");
      for (int64_t j = 0; j < dim; ++j) u[i * dim + j] /= norm[i];
    }
  };
  std::vector<double> qu, pu, qn, pn;
  unit(queries, qu, qn, "query embedding");
  unit(positives, pu, pn, "positive embedding");

  InfoNceResult r;
  // g[i][j] = d(loss)/d(s_ij) = (softmax_j(s_i.) - [i == j]) / B
  std::vector<double> g(batch * batch);
  for (int64_t i = 0; i < batch; ++i) {
    double* s = g.data() + i * batch;
    for (int64_t j = 0; j < batch; ++j) {
      double dot = 0;
      for (int64_t e = 0; e < dim; ++e) dot += qu[i * dim + e] * pu[j * dim + e];
      s[j] = dot / temperature;
    }
    const int64_t best = std::max_element(s, s + batch) - s;
    r.correct += best == i;
    const double top = s[best];
    double total = 0;
    for (int64_t j = 0; j < batch; ++j) total += std::exp(s[j] - top);
    r.loss += top + std::log(total) - s[i];
    for (int64_t j = 0; j < batch; ++j) s[j] = (std::exp(s[j] - top) / total - (i == j)) / double(batch);
  }
  r.loss /= double(batch);
  r.accuracy = double(r.correct) / double(batch);
  if (!with_gradient) return r;

  // Through s_ij = qu_i . pu_j / tau, then through u = x / |x|: dx = (du - u (u . du)) / |x|.
  r.dq.assign(batch * dim, 0.0);
  r.dp.assign(batch * dim, 0.0);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < batch; ++j) {
      const double w = g[i * batch + j] / temperature;
      for (int64_t e = 0; e < dim; ++e) {
        r.dq[i * dim + e] += w * pu[j * dim + e];
        r.dp[j * dim + e] += w * qu[i * dim + e];
      }
    }
  auto through_norm = [&](std::vector<double>& d, const std::vector<double>& u, const std::vector<double>& norm) {
    for (int64_t i = 0; i < batch; ++i) {
      double dot = 0;
      for (int64_t e = 0; e < dim; ++e) dot += u[i * dim + e] * d[i * dim + e];
      for (int64_t e = 0; e < dim; ++e) d[i * dim + e] = (d[i * dim + e] - u[i * dim + e] * dot) / norm[i];
    }
  };
  through_norm(r.dq, qu, qn);
  through_norm(r.dp, pu, pn);
  return r;
}

}  // namespace alloy
