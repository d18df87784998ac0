// Tests of the geometry sums of one tensor: hand-worked norms, cosines and sign counts; a zero
// task vector's n/a; the same sums for any thread count on a tensor of several blocks, against a
// float64 computation over the raw values; every float dtype; errors naming tensor and model.
#include "analyze/tensor_geometry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// A tensor of f32 values owned by the test, stored as `dtype`; view() points into it, so copies
// are safe.
struct OwnedTensor {
  std::vector<std::byte> bytes;
  DType dtype;
  OwnedTensor(const std::vector<float>& values, DType type = DType::F32) : dtype(type) {
    bytes.resize(values.size() * dtype_size(dtype));
    from_f32(values.data(), dtype, bytes.data(), values.size());
  }
  TensorView view() const {
    const int64_t n = static_cast<int64_t>(bytes.size() / dtype_size(dtype));
    return TensorView{dtype, {n}, bytes.data(), bytes.size()};
  }
  std::vector<double> values() const {
    std::vector<float> f(bytes.size() / dtype_size(dtype));
    to_f32(dtype, bytes.data(), f.data(), f.size());
    return {f.begin(), f.end()};
  }
};

// Views into `base` and `models`, which must outlive the result.
TensorInputs inputs_of(const OwnedTensor& base, const std::vector<OwnedTensor>& models) {
  TensorInputs in{"t", base.view(), {}, {"base"}};
  for (size_t m = 0; m < models.size(); ++m) {
    in.models.push_back(models[m].view());
    in.labels.push_back("ft" + std::to_string(m + 1));
  }
  return in;
}

TEST(TensorGeometry, HandWorkedThreeModels) {
  // τ1 = [1, -2, 0, 3], τ2 = [2, 1, 5, 0], τ3 = [-1, -1, 0, 0] over a non-zero base.
  const std::vector<float> base = {0.5f, -1.0f, 2.0f, 0.25f};
  const std::vector<std::vector<float>> tau = {{1, -2, 0, 3}, {2, 1, 5, 0}, {-1, -1, 0, 0}};
  OwnedTensor b(base);
  std::vector<OwnedTensor> models;
  for (const auto& t : tau) {
    std::vector<float> v(4);
    for (int e = 0; e < 4; ++e) v[e] = base[e] + t[e];
    models.emplace_back(v);
  }
  GeometrySums s = tensor_geometry(inputs_of(b, models), 1);
  EXPECT_EQ(s.elements, 4u);
  const auto n = norms(s);
  EXPECT_DOUBLE_EQ(n[0], std::sqrt(14.0));
  EXPECT_DOUBLE_EQ(n[1], std::sqrt(30.0));
  EXPECT_DOUBLE_EQ(n[2], std::sqrt(2.0));
  const auto c = cosines(s);  // pairs (1,2), (1,3), (2,3)
  EXPECT_DOUBLE_EQ(*c[0], 0.0);
  EXPECT_NEAR(*c[1], 1 / std::sqrt(28.0), 1e-15);
  EXPECT_NEAR(*c[2], -3 / std::sqrt(60.0), 1e-15);
  // Both non-zero: (1,2) at e0, e1; (1,3) at e0, e1; (2,3) at e0, e1. Signs differ: (1,2) at e1,
  // (1,3) at e0, (2,3) at e0 and e1.
  EXPECT_EQ(s.both_nonzero, (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(s.signs_differ, (std::vector<uint64_t>{1, 1, 2}));
  const auto pc = pair_conflicts(s);
  EXPECT_DOUBLE_EQ(*pc[0], 0.5);
  EXPECT_DOUBLE_EQ(*pc[1], 0.5);
  EXPECT_DOUBLE_EQ(*pc[2], 1.0);
  EXPECT_DOUBLE_EQ(*conflict_share(s), 4.0 / 6.0);
  // e0 (+, +, -) and e1 (-, +, -) have two or more non-zero values, both mixed; e2, e3 have one.
  EXPECT_EQ(s.several_nonzero, 2u);
  EXPECT_EQ(s.signs_mixed, 2u);
  EXPECT_DOUBLE_EQ(*mixed_sign_share(s), 1.0);
}

TEST(TensorGeometry, ZeroTaskVectorGivesNotAvailable) {
  OwnedTensor b({1, 2, 3});
  const std::vector<OwnedTensor> one_same{OwnedTensor({1, 2, 3}), OwnedTensor({2, 2, 1})};
  const std::vector<OwnedTensor> both_same{OwnedTensor({1, 2, 3}), OwnedTensor({1, 2, 3})};
  GeometrySums s = tensor_geometry(inputs_of(b, one_same), 1);
  EXPECT_EQ(norms(s)[0], 0.0);
  EXPECT_DOUBLE_EQ(norms(s)[1], std::sqrt(5.0));
  EXPECT_FALSE(cosines(s)[0].has_value());
  EXPECT_FALSE(pair_conflicts(s)[0].has_value());
  EXPECT_FALSE(conflict_share(s).has_value());
  EXPECT_FALSE(mixed_sign_share(s).has_value());
  GeometrySums none = tensor_geometry(inputs_of(b, both_same), 1);
  EXPECT_FALSE(cosines(none)[0].has_value());
  EXPECT_EQ(norms(none), (std::vector<double>{0.0, 0.0}));
}

// The float64 reference: every statistic computed directly over the raw values.
struct Reference {
  std::vector<double> squares, dots;
  std::vector<uint64_t> both, differ;
  uint64_t several = 0, mixed = 0;
};
Reference reference(const std::vector<double>& base, const std::vector<std::vector<double>>& models) {
  const size_t k = models.size();
  Reference r;
  r.squares.assign(k, 0);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i + 1; j < k; ++j) {
      double dot = 0;
      uint64_t both = 0, differ = 0;
      for (size_t e = 0; e < base.size(); ++e) {
        double a = models[i][e] - base[e], b = models[j][e] - base[e];
        dot += a * b;
        if (a != 0 && b != 0) {
          ++both;
          if ((a > 0) != (b > 0)) ++differ;
        }
      }
      r.dots.push_back(dot);
      r.both.push_back(both);
      r.differ.push_back(differ);
    }
  for (size_t e = 0; e < base.size(); ++e) {
    int pos = 0, neg = 0;
    for (size_t i = 0; i < k; ++i) {
      double d = models[i][e] - base[e];
      r.squares[i] += d * d;
      pos += d > 0;
      neg += d < 0;
    }
    if (pos + neg >= 2) {
      ++r.several;
      if (pos && neg) ++r.mixed;
    }
  }
  return r;
}

// Over three blocks (the last one partial), with sparse and sign-flipped task vectors, for each
// of f32, bf16 and f16: equal to the reference (counts exactly, sums within their rounding bound) and
// bit-identical for 1, 2 and 5 threads.
TEST(TensorGeometry, ManyBlocksAnyThreadCountF32Bf16F16) {
  const size_t n = (size_t{1} << 21) + 12345;
  std::mt19937_64 rng(42);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> base(n), dense(n), sparse(n), flipped(n);
  for (size_t e = 0; e < n; ++e) {
    base[e] = 0.02f * g(rng);
    const float d = 0.002f * g(rng);
    dense[e] = base[e] + d;
    sparse[e] = u(rng) < 0.1f ? base[e] + 0.002f * g(rng) : base[e];
    flipped[e] = base[e] + (u(rng) < 0.3f ? -d : d) * 0.5f;
  }
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    OwnedTensor b(base, dtype);
    std::vector<OwnedTensor> models{OwnedTensor(dense, dtype), OwnedTensor(sparse, dtype), OwnedTensor(flipped, dtype)};
    const TensorInputs in = inputs_of(b, models);
    GeometrySums one = tensor_geometry(in, 1);
    Reference r = reference(b.values(), {models[0].values(), models[1].values(), models[2].values()});
    EXPECT_EQ(one.elements, n);
    // Both sum n products in a different order: each within n·2^-53 of the exact sum (relative to
    // the sum of magnitudes, at most the norms' product by Cauchy–Schwarz).
    const double order = 2.0 * static_cast<double>(n) * std::ldexp(1.0, -53);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(one.squares[i], r.squares[i], order * r.squares[i]) << i;
    const auto pairs = model_pairs(3);
    for (size_t p = 0; p < 3; ++p)
      EXPECT_NEAR(one.dots[p], r.dots[p], order * std::sqrt(r.squares[pairs[p].first] * r.squares[pairs[p].second]));
    EXPECT_EQ(one.both_nonzero, r.both);
    EXPECT_EQ(one.signs_differ, r.differ);
    EXPECT_EQ(one.several_nonzero, r.several);
    EXPECT_EQ(one.signs_mixed, r.mixed);
    for (int threads : {2, 5}) {
      GeometrySums many = tensor_geometry(in, threads);
      EXPECT_EQ(std::memcmp(many.squares.data(), one.squares.data(), 3 * sizeof(double)), 0) << threads;
      EXPECT_EQ(std::memcmp(many.dots.data(), one.dots.data(), 3 * sizeof(double)), 0) << threads;
      EXPECT_EQ(many.signs_differ, one.signs_differ);
      EXPECT_EQ(many.signs_mixed, one.signs_mixed);
    }
  }
}

TEST(TensorGeometry, ErrorsNameTensorAndModel) {
  OwnedTensor b({1, 2, 3, 4});
  const std::vector<OwnedTensor> with_nan{OwnedTensor({1, 2, 3, 5}), OwnedTensor({1, std::nanf(""), 3, 4})};
  const std::vector<OwnedTensor> shorter{OwnedTensor({1, 2, 3})};
  TensorInputs in = inputs_of(b, with_nan);
  in.name = "model.layers.0.mlp.up_proj.weight";
  try {
    tensor_geometry(in, 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.mlp.up_proj.weight' of ft2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("element 1"), std::string::npos) << e.what();
  }
  in = inputs_of(b, shorter);
  try {
    tensor_geometry(in, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape [3] in ft1 but [4] in base"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
