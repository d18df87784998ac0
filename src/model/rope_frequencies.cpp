#include "model/rope_frequencies.h"

#include <cmath>
#include <numbers>

namespace alloy {

std::vector<double> rope_inv_freq(const RopeConfig& rope, int64_t head_dim) {
  std::vector<double> inv(head_dim / 2);
  for (int64_t i = 0; i < head_dim / 2; ++i)
    inv[i] = 1.0 / std::pow(rope.theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
  if (rope.scaling == RopeScaling::kLinear) {
    for (double& f : inv) f /= rope.factor;
  } else if (rope.scaling == RopeScaling::kLlama3) {
    // Wavelengths longer than original/low_freq_factor are slowed by `factor`; shorter than
    // original/high_freq_factor kept; in between interpolated by how many wavelengths fit the context.
    const double low_wavelen = rope.original_max_position / rope.low_freq_factor;
    const double high_wavelen = rope.original_max_position / rope.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= rope.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (rope.original_max_position / wavelen - rope.low_freq_factor) /
                              (rope.high_freq_factor - rope.low_freq_factor);
        f = (1 - smooth) * f / rope.factor + smooth * f;
      }
    }
  }
  return inv;
}

template <class S>
RopeTables<S> rope_tables(const RopeConfig& rope, int64_t head_dim, int64_t seq_len) {
  const std::vector<double> inv = rope_inv_freq(rope, head_dim);
  const int64_t half = head_dim / 2;
  RopeTables<S> t;
  t.cos.resize(seq_len * half);
  t.sin.resize(seq_len * half);
  for (int64_t p = 0; p < seq_len; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * inv[i];
      t.cos[p * half + i] = static_cast<S>(std::cos(angle));
      t.sin[p * half + i] = static_cast<S>(std::sin(angle));
    }
  return t;
}

template RopeTables<float> rope_tables<float>(const RopeConfig&, int64_t, int64_t);
template RopeTables<double> rope_tables<double>(const RopeConfig&, int64_t, int64_t);

}  // namespace alloy
