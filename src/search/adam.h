// Adam (Kingma & Ba): per-coordinate steps scaled by running estimates of the gradient's first and
// second moments, with their bias corrections. Small enough to live in a header.
#pragma once
#include <cmath>
#include <vector>

namespace alloy {

struct AdamSettings {
  double learning_rate = 0.05;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

class Adam {
 public:
  Adam(size_t size, AdamSettings settings) : s_(settings), m_(size, 0.0), v_(size, 0.0) {}
  // x ← x − lr · m̂ / (√v̂ + ε).
  void step(std::vector<double>& x, const std::vector<double>& grad) {
    ++t_;
    const double c1 = 1 - std::pow(s_.beta1, t_), c2 = 1 - std::pow(s_.beta2, t_);
    for (size_t k = 0; k < x.size(); ++k) {
      m_[k] = s_.beta1 * m_[k] + (1 - s_.beta1) * grad[k];
      v_[k] = s_.beta2 * v_[k] + (1 - s_.beta2) * grad[k] * grad[k];
      x[k] -= s_.learning_rate * (m_[k] / c1) / (std::sqrt(v_[k] / c2) + s_.epsilon);
    }
  }

 private:
  AdamSettings s_;
  std::vector<double> m_, v_;
  int t_ = 0;
};

}  // namespace alloy
