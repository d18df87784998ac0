#include "analyze/geometry_sums.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace alloy {

std::vector<std::pair<int, int>> model_pairs(int models) {
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < models; ++i)
    for (int j = i + 1; j < models; ++j) pairs.emplace_back(i, j);
  return pairs;
}

GeometrySums::GeometrySums(int model_count) : models(model_count) {
  const size_t pairs = static_cast<size_t>(model_count) * (model_count - 1) / 2;
  squares.assign(model_count, 0.0);
  dots.assign(pairs, 0.0);
  both_nonzero.assign(pairs, 0);
  signs_differ.assign(pairs, 0);
}

GeometrySums& GeometrySums::operator+=(const GeometrySums& o) {
  if (o.models != models) fail("internal: adding geometry sums of ", o.models, " models to ", models);
  elements += o.elements;
  for (size_t i = 0; i < squares.size(); ++i) squares[i] += o.squares[i];
  for (size_t p = 0; p < dots.size(); ++p) {
    dots[p] += o.dots[p];
    both_nonzero[p] += o.both_nonzero[p];
    signs_differ[p] += o.signs_differ[p];
  }
  several_nonzero += o.several_nonzero;
  signs_mixed += o.signs_mixed;
  return *this;
}

std::vector<double> norms(const GeometrySums& s) {
  std::vector<double> out;
  for (double sq : s.squares) out.push_back(std::sqrt(sq));
  return out;
}

std::vector<std::optional<double>> cosines(const GeometrySums& s) {
  std::vector<std::optional<double>> out;
  const auto pairs = model_pairs(s.models);
  for (size_t p = 0; p < pairs.size(); ++p) {
    const double a = s.squares[pairs[p].first], b = s.squares[pairs[p].second];
    if (a == 0 || b == 0) {
      out.emplace_back();
      continue;
    }
    // Rounding can push |cos| a hair past 1 for parallel vectors.
    out.emplace_back(std::clamp(s.dots[p] / (std::sqrt(a) * std::sqrt(b)), -1.0, 1.0));
  }
  return out;
}

std::vector<std::optional<double>> pair_conflicts(const GeometrySums& s) {
  std::vector<std::optional<double>> out;
  for (size_t p = 0; p < s.dots.size(); ++p) {
    if (s.both_nonzero[p] == 0)
      out.emplace_back();
    else
      out.emplace_back(static_cast<double>(s.signs_differ[p]) / static_cast<double>(s.both_nonzero[p]));
  }
  return out;
}

std::optional<double> conflict_share(const GeometrySums& s) {
  uint64_t both = 0, differ = 0;
  for (size_t p = 0; p < s.dots.size(); ++p) both += s.both_nonzero[p], differ += s.signs_differ[p];
  if (both == 0) return std::nullopt;
  return static_cast<double>(differ) / static_cast<double>(both);
}

std::optional<double> mixed_sign_share(const GeometrySums& s) {
  if (s.several_nonzero == 0) return std::nullopt;
  return static_cast<double>(s.signs_mixed) / static_cast<double>(s.several_nonzero);
}

}  // namespace alloy
