#include "methods/sign_consensus.h"

namespace alloy {

namespace {

template <SignRule rule>
void consensus(std::span<const double* const> v, std::span<const double> w, int64_t len, double* mixed,
               double* divisor) {
  const size_t models = v.size();
  for (int64_t j = 0; j < len; ++j) {
    double s = 0;
    for (size_t m = 0; m < models; ++m) s += rule == SignRule::Weighted ? w[m] * v[m][j] : v[m][j];
    const double elected = s >= 0 ? 1.0 : -1.0;
    double mix = 0, div = 0;
    for (size_t m = 0; m < models; ++m) {
      const double wd = w[m] * v[m][j];
      const double voter = rule == SignRule::Weighted ? wd : v[m][j];
      // Same non-zero sign as the elected one; a select, not a branch (agreement is data-dependent).
      const double agree = voter * elected > 0 ? 1.0 : 0.0;
      mix += wd * agree;
      div += w[m] * agree;
    }
    mixed[j] = mix;
    divisor[j] = div == 0 ? 1.0 : div;
  }
}

}  // namespace

void sign_consensus(std::span<const double* const> v, std::span<const double> w, int64_t len, SignRule rule,
                    double* mixed, double* divisor) {
  if (rule == SignRule::Weighted)
    consensus<SignRule::Weighted>(v, w, len, mixed, divisor);
  else
    consensus<SignRule::Unweighted>(v, w, len, mixed, divisor);
}

}  // namespace alloy
