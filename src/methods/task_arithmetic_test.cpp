// The task-arithmetic family against an independent float64 reference written from the formulas
// (mergekit-reference §3.5): sort-based masks, explicit sums; only the random draws come from
// CounterRng, whose bits are the contract for DARE/DELLA masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "../../tests/method_harness.h"
#include "methods/blocks/counter_rng.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::MethodHarness;
using testing::normal_values;

struct Options {
  std::vector<double> weight, density, gamma, epsilon;  // per model (not the base)
  std::optional<bool> normalize, rescale, paper;
  std::optional<double> lambda;
  uint64_t seed = 0;
};

struct Case {
  std::string method;
  Shape shape;
  std::vector<float> base;
  std::vector<std::vector<float>> models;
  DType dtype = DType::F32;
  Options o;
};

enum class Kind { None, Magnitude, Random, Outliers, Della };

Kind kind_of(const std::string& m) {
  if (m == "ties") return Kind::Magnitude;
  if (m == "dare_linear" || m == "dare_ties") return Kind::Random;
  if (m == "breadcrumbs" || m == "breadcrumbs_ties") return Kind::Outliers;
  if (m == "della" || m == "della_linear") return Kind::Della;
  return Kind::None;
}
bool consensus_of(const std::string& m) {
  return m == "ties" || m == "dare_ties" || m == "breadcrumbs_ties" || m == "della";
}
bool normalize_default(const std::string& m) { return m == "ties" || m == "della"; }
bool rescale_default(const std::string& m) {
  return m == "dare_linear" || m == "dare_ties" || m == "della" || m == "della_linear";
}

const std::string kTensor = "model.layers.0.mlp.up_proj.weight";

// Indices ordered by f32 |δ| descending, ties by lower index (a plain sort).
std::vector<size_t> by_magnitude_desc(const std::vector<float>& key) {
  std::vector<size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] != key[b] ? key[a] > key[b] : a < b; });
  return order;
}

std::vector<double> reference(const Case& c) {
  const size_t n = c.base.size();
  const size_t cols = c.shape.empty() ? 1 : static_cast<size_t>(c.shape.back());
  const Kind kind = kind_of(c.method);
  const bool normalize = c.o.normalize.value_or(normalize_default(c.method));
  const bool rescale = c.o.rescale.value_or(rescale_default(c.method));
  const double lambda = c.o.lambda.value_or(1.0);
  auto rnd = [&](const std::vector<float>& v) { return MethodHarness::rounded(v, c.dtype); };
  const std::vector<float> base = rnd(c.base);
  const size_t models = c.models.size();
  std::vector<std::vector<double>> tv(models, std::vector<double>(n));
  for (size_t m = 0; m < models; ++m) {
    const std::vector<float> x = rnd(c.models[m]);
    std::vector<double> delta(n);
    std::vector<float> key(n);  // |δ| as the f32 difference: the ranking key
    for (size_t e = 0; e < n; ++e) {
      delta[e] = double(x[e]) - double(base[e]);
      key[e] = std::fabs(x[e] - base[e]);
    }
    const double density = m < c.o.density.size() ? c.o.density[m] : 1.0;
    std::vector<bool> keep(n, true);
    if (kind != Kind::None && density < 1) {
      const CounterRng rng(c.o.seed, kTensor, m + 1);  // input index: the base is input 0
      if (kind == Kind::Magnitude) {
        auto order = by_magnitude_desc(key);
        const size_t k = static_cast<size_t>(std::floor(density * n));
        keep.assign(n, false);
        for (size_t j = 0; j < k; ++j) keep[order[j]] = true;
      } else if (kind == Kind::Outliers) {
        const double gamma = m < c.o.gamma.size() ? c.o.gamma[m] : 0.01;
        int64_t target = static_cast<int64_t>(std::floor(density * n));
        int64_t top = static_cast<int64_t>(std::floor(gamma * n));
        int64_t bottom = static_cast<int64_t>(n) - target - top;
        if (bottom < 0) top += bottom;
        auto order = by_magnitude_desc(key);
        keep.assign(n, false);
        for (int64_t j = top; j < top + target; ++j) keep[order[static_cast<size_t>(j)]] = true;
      } else if (kind == Kind::Random) {
        for (size_t e = 0; e < n; ++e) keep[e] = rng.uniform(e) < density;
      } else {
        const double eps = m < c.o.epsilon.size() ? c.o.epsilon[m] : 0.15;
        for (size_t r = 0; r < n / cols; ++r) {
          std::vector<size_t> order(cols);
          std::iota(order.begin(), order.end(), 0);
          std::sort(order.begin(), order.end(),
                    [&](size_t a, size_t b) { return key[r * cols + a] < key[r * cols + b]; });
          // Equal magnitudes share their mean position j (0-based): p at j = (first + last) / 2.
          for (size_t first = 0; first < cols;) {
            size_t last = first;
            while (last + 1 < cols && key[r * cols + order[last + 1]] == key[r * cols + order[first]]) ++last;
            const double twice_j = double(first + last);
            const double p = cols > 1 ? (density - eps) + 2 * eps * twice_j / (2 * double(cols - 1)) : density;
            for (; first <= last; ++first) keep[r * cols + order[first]] = rng.uniform(r * cols + order[first]) < p;
          }
        }
      }
    }
    double before = 0, after = 0;
    for (size_t e = 0; e < n; ++e) {
      tv[m][e] = keep[e] ? delta[e] : 0.0;
      before += std::fabs(delta[e]);
      after += std::fabs(tv[m][e]);
    }
    if (kind != Kind::None && density < 1 && rescale && before >= 1e-7 && after >= 1e-7)
      for (double& v : tv[m]) v *= before / after;
  }
  std::vector<double> out(n);
  const bool paper = c.o.paper.value_or(false);
  for (size_t e = 0; e < n; ++e) {
    double mixed = 0, divisor = 0;
    if (consensus_of(c.method)) {
      double s = 0;
      for (size_t m = 0; m < models; ++m) s += paper ? tv[m][e] : c.o.weight[m] * tv[m][e];
      const double elected = s >= 0 ? 1 : -1;
      for (size_t m = 0; m < models; ++m) {
        const double voter = paper ? tv[m][e] : c.o.weight[m] * tv[m][e];
        const double sign = voter > 0 ? 1 : voter < 0 ? -1 : 0;
        if (sign == elected) {
          mixed += c.o.weight[m] * tv[m][e];
          divisor += c.o.weight[m];
        }
      }
      if (divisor == 0) divisor = 1;
    } else {
      for (size_t m = 0; m < models; ++m) {
        mixed += c.o.weight[m] * tv[m][e];
        divisor += c.o.weight[m];
      }
      if (std::fabs(divisor) < 1e-8) divisor = 1;
    }
    if (normalize) mixed /= divisor;
    out[e] = double(base[e]) + mixed * lambda;
  }
  return out;
}

MethodHarness harness(const Case& c) {
  MethodHarness h(c.method, kTensor);
  h.add_base(c.base, c.shape, c.dtype);
  for (size_t m = 0; m < c.models.size(); ++m) {
    size_t i = h.add(c.models[m], c.shape, c.dtype);
    h.per_model(i, "weight", c.o.weight[m]);
    if (m < c.o.density.size()) h.per_model(i, "density", c.o.density[m]);
    if (m < c.o.gamma.size()) h.per_model(i, "gamma", c.o.gamma[m]);
    if (m < c.o.epsilon.size()) h.per_model(i, "epsilon", c.o.epsilon[m]);
  }
  if (c.o.normalize) h.global("normalize", *c.o.normalize);
  if (c.o.rescale) h.global("rescale", *c.o.rescale);
  if (c.o.paper) h.global("ties_paper_sign", *c.o.paper);
  if (c.o.lambda) h.global("lambda", *c.o.lambda);
  h.call.seed = c.o.seed;
  return h;
}

// Runs with one row, seven rows and the whole tensor per block; all three must agree bit for bit
// and lie within one output ulp of the reference.
std::vector<float> expect_matches_reference(const Case& c, const std::string& what = "") {
  SCOPED_TRACE(c.method + " " + shape_str(c.shape) + " " + what);
  const int64_t cols = c.shape.empty() ? 1 : std::max<int64_t>(c.shape.back(), 1);
  MethodHarness h = harness(c);
  std::vector<float> whole = h.run(int64_t{1} << 40);
  EXPECT_EQ(harness(c).run(cols), whole);
  EXPECT_EQ(harness(c).run(7 * cols), whole);
  std::vector<double> want = reference(c);
  const DType out = c.dtype;
  std::vector<float> got = MethodHarness::rounded(whole, out);
  for (size_t e = 0; e < want.size(); ++e)
    EXPECT_LE(testing::ulp_distance(got[e], want[e], out), out == DType::F32 ? 1.0 : 0.5 + 1e-9)
        << "element " << e << ": got " << got[e] << ", want " << want[e];
  return whole;
}

// base ~ N(0, 1); model m = base + small task vector, some entries exactly equal to the base.
Case make_case(const std::string& method, Shape shape, size_t models, uint32_t seed) {
  Case c;
  c.method = method;
  c.shape = shape;
  const size_t n = static_cast<size_t>(numel(shape));
  c.base = normal_values(n, seed);
  for (size_t m = 0; m < models; ++m) {
    auto d = normal_values(n, seed * 10 + static_cast<uint32_t>(m) + 1, 0.05f);
    std::vector<float> x(n);
    for (size_t e = 0; e < n; ++e) x[e] = (e % 11 == 3) ? c.base[e] : c.base[e] + d[e];
    c.models.push_back(x);
    c.o.weight.push_back(0.3 + 0.4 * static_cast<double>(m));
  }
  return c;
}

const std::vector<std::string> kMethods = {"task_arithmetic", "ties",        "dare_linear",  "dare_ties",
                                           "breadcrumbs",     "breadcrumbs_ties", "della", "della_linear"};
const std::vector<Shape> kShapes = {{1}, {5}, {3, 1}, {7, 13}, {}, {4, 3, 5}};

TEST(TaskArithmeticFamily, MatchesReferenceOverShapesAndDensities) {
  uint32_t seed = 1;
  for (const auto& method : kMethods)
    for (const auto& shape : kShapes)
      for (double density : {1.0, 0.6, 0.3}) {
        Case c = make_case(method, shape, 3, seed++);
        c.o.density = {density, density * 0.9, density};
        c.o.seed = seed;
        if (kind_of(method) == Kind::Della) c.o.epsilon = {0.1, 0.05, 0.2};
        if (kind_of(method) == Kind::Outliers) c.o.gamma = {0.1, 0.01, 0.2};
        expect_matches_reference(c, "density " + std::to_string(density));
      }
}

// 1 to 4 task vectors take the fused combine and consensus loops, more the tiled ones: both match
// the reference for every count.
TEST(TaskArithmeticFamily, MatchesReferenceForEveryTaskVectorCount) {
  uint32_t seed = 50;
  for (const auto& method : kMethods)
    for (size_t models = 1; models <= 6; ++models) {
      Case c = make_case(method, {5, 9}, models, seed++);
      c.o.density.assign(models, 0.6);
      if (kind_of(method) == Kind::Della) c.o.epsilon.assign(models, 0.1);
      if (kind_of(method) == Kind::Outliers) c.o.gamma.assign(models, 0.05);
      expect_matches_reference(c, std::to_string(models) + " task vectors");
    }
}

// Tensors longer than a merge tile (4096 elements) with rows that are not a multiple of 8 long:
// tiles and DELLA's whole-row segments then start at any offset, for every block split; with
// DARE's and DELLA's default rescale, the fused loops over kept bits, for every combine.
TEST(TaskArithmeticFamily, MatchesReferenceOnTensorsLongerThanATile) {
  uint32_t seed = 80;
  for (const auto& method : kMethods) {
    Case c = make_case(method, {700, 13}, 3, seed++);
    c.o.density = {0.6, 0.4, 0.7};
    if (kind_of(method) == Kind::Della) c.o.epsilon = {0.1, 0.2, 0.05};
    if (kind_of(method) == Kind::Outliers) c.o.gamma = {0.05, 0.01, 0.1};
    expect_matches_reference(c, "700 x 13");
    c.o.normalize = !normalize_default(method);  // the combines that divide
    c.o.lambda = 0.75;
    expect_matches_reference(c, "700 x 13, flipped");
    if (consensus_of(method)) {  // the paper's vote, with weights that make it differ from mergekit's
      c.o.paper = true;
      c.o.weight = {0.9, -0.4, 0.6};
      expect_matches_reference(c, "700 x 13, flipped, paper sign");
    }
  }
}

TEST(TaskArithmeticFamily, MatchesReferenceWithEveryOptionFlipped) {
  uint32_t seed = 100;
  for (const auto& method : kMethods) {
    Case c = make_case(method, {6, 9}, 2, seed++);
    c.o.density = {0.5, 0.7};
    c.o.normalize = !normalize_default(method);
    c.o.rescale = !rescale_default(method);
    c.o.lambda = 0.75;
    c.o.weight = {0.9, -0.4};
    if (consensus_of(method)) c.o.paper = true;
    expect_matches_reference(c, "flipped");
  }
}

TEST(TaskArithmeticFamily, LowPrecisionInputsRoundOnce) {
  uint32_t seed = 200;
  for (const auto& method : kMethods)
    for (DType dtype : {DType::BF16, DType::F16}) {
      Case c = make_case(method, {8, 16}, 2, seed++);
      c.dtype = dtype;
      c.o.density = {0.4, 0.5};
      expect_matches_reference(c, dtype == DType::BF16 ? "bf16" : "f16");
    }
}

TEST(TaskArithmeticFamily, IdenticalModelsGiveTheBaseExactly) {
  for (const auto& method : kMethods) {
    Case c = make_case(method, {5, 7}, 2, 300);
    c.base[3] = -0.0f;
    c.models = {c.base, c.base};
    c.o.density = {0.5, 0.5};
    auto out = expect_matches_reference(c, "identical");
    EXPECT_EQ(std::memcmp(out.data(), c.base.data(), out.size() * sizeof(float)), 0) << method;  // bits
  }
}

TEST(TaskArithmeticFamily, OnlyTheBaseGivesTheBase) {
  for (const auto& method : kMethods) {
    MethodHarness h(method, kTensor);
    std::vector<float> b = {1.5f, -2, 0.25f};
    h.add_base(b, {3});
    EXPECT_EQ(h.run(), b) << method;
  }
}

TEST(TaskArithmeticFamily, EmptyTensor) {
  for (const auto& method : kMethods) {
    MethodHarness h(method, kTensor);
    h.add_base({}, {0, 4});
    size_t i = h.add({}, {0, 4});
    h.per_model(i, "weight", 1).per_model(i, "density", 0.5);
    EXPECT_TRUE(h.run().empty()) << method;
  }
}

TEST(TaskArithmeticFamily, TaskNegation) {
  // weight −1, normalize off: base − (model − base).
  Case c = make_case("task_arithmetic", {4, 4}, 1, 400);
  c.o.weight = {-1.0};
  auto out = expect_matches_reference(c);
  for (size_t e = 0; e < out.size(); ++e) EXPECT_FLOAT_EQ(out[e], 2 * c.base[e] - c.models[0][e]);
  // With TIES (normalize off) the negated task vector elects its own (flipped) sign and survives.
  Case t = make_case("ties", {4, 4}, 1, 401);
  t.o.weight = {-1.0};
  t.o.normalize = false;
  t.o.density = {0.5};
  expect_matches_reference(t, "negated ties");
}

TEST(TaskArithmeticFamily, DensityNearZero) {
  for (const auto& method : {"ties", "dare_linear", "breadcrumbs", "della_linear"}) {
    Case c = make_case(method, {7, 13}, 2, 500);
    c.o.density = {0.02, 1e-9};
    if (kind_of(method) == Kind::Della) c.o.epsilon = {0.01, 1e-10};
    expect_matches_reference(c, "near zero");
  }
}

TEST(TaskArithmeticFamily, AllZeroTaskVectors) {
  for (const auto& method : kMethods) {
    Case c = make_case(method, {3, 4}, 2, 600);
    c.base.assign(12, 0.0f);
    c.models = {c.base, c.base};
    c.o.density = {0.5, 0.5};
    auto out = expect_matches_reference(c, "zeros");
    for (float v : out) EXPECT_EQ(v, 0.0f);
  }
}

TEST(TaskArithmeticFamily, TiesKeepsExactlyKWithManyTiesLowerIndexFirst) {
  // Every |δ| is 1 or 2: k = 45 of 100 keeps the 30 twos and then the 15 ones of lowest index.
  Case c;
  c.method = "ties";
  c.shape = {10, 10};
  c.base.assign(100, 0.0f);
  std::vector<float> x(100);
  for (size_t e = 0; e < 100; ++e) x[e] = (e % 10 < 3 ? 2.0f : 1.0f) * (e % 3 == 0 ? -1.0f : 1.0f);
  c.models = {x};
  c.o.weight = {1.0};
  c.o.density = {0.45};
  auto out = expect_matches_reference(c);
  int kept = 0, ones = 0;
  size_t last_one = 0;
  for (size_t e = 0; e < 100; ++e) {
    kept += out[e] != 0;
    if (out[e] != 0 && std::fabs(out[e]) == 1.0f) {
      ++ones;
      last_one = e;
    }
  }
  EXPECT_EQ(kept, 45);
  EXPECT_EQ(ones, 15);
  EXPECT_EQ(last_one, 23u);  // ones sit at columns 3..9: rows 0 and 1 give 14, then element 23
}

TEST(TaskArithmeticFamily, DareKeepsAboutDensityAndPreservesL1) {
  const size_t n = 100000;
  Case c;
  c.method = "dare_linear";
  c.shape = {100, 1000};
  c.base = normal_values(n, 700);
  std::vector<float> x(n);
  auto d = normal_values(n, 701, 0.01f);
  for (size_t e = 0; e < n; ++e) x[e] = d[e];  // base 0 below; δ never 0
  c.base.assign(n, 0.0f);
  c.models = {x};
  c.o.weight = {1.0};
  c.o.density = {0.3};
  c.o.rescale = false;
  MethodHarness h = harness(c);
  auto out = h.run(7 * 1000);
  int64_t kept = std::count_if(out.begin(), out.end(), [](float v) { return v != 0; });
  EXPECT_NEAR(static_cast<double>(kept), 0.3 * n, 5 * std::sqrt(n * 0.3 * 0.7));
  c.o.rescale = true;
  out = harness(c).run();
  double before = 0, after = 0;
  for (size_t e = 0; e < n; ++e) {
    before += std::fabs(double(x[e]));
    after += std::fabs(double(out[e]));
  }
  EXPECT_NEAR(after, before, 1e-6 * before);
}

TEST(TaskArithmeticFamily, DellaKeepProbabilityRisesWithMagnitude) {
  // Rows of |δ| = 1..100 (shuffled per row): expected keep rate of rank r is 0.3 + 0.4·(r−1)/99.
  const size_t rows = 2000, cols = 100;
  std::vector<float> x(rows * cols);
  std::mt19937 gen(800);
  for (size_t r = 0; r < rows; ++r) {
    std::vector<float> row(cols);
    std::iota(row.begin(), row.end(), 1.0f);
    std::shuffle(row.begin(), row.end(), gen);
    std::copy(row.begin(), row.end(), x.begin() + static_cast<long>(r * cols));
  }
  Case c;
  c.method = "della_linear";
  c.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  c.base.assign(rows * cols, 0.0f);
  c.models = {x};
  c.o.weight = {1.0};
  c.o.density = {0.5};
  c.o.epsilon = {0.2};
  c.o.rescale = false;
  auto out = harness(c).run();
  std::vector<int> bucket_kept(10, 0);
  for (size_t e = 0; e < out.size(); ++e)
    if (out[e] != 0) ++bucket_kept[static_cast<size_t>(x[e] - 1) / 10];
  const double per_bucket = rows * 10.0;
  for (size_t b = 0; b < 10; ++b) {
    double p = 0;
    for (int r = 0; r < 10; ++r) p += 0.3 + 0.4 * (b * 10.0 + r) / 99.0;
    p /= 10;
    EXPECT_NEAR(bucket_kept[b] / per_bucket, p, 5 * std::sqrt(p * (1 - p) / per_bucket)) << "bucket " << b;
    if (b > 0) {
      EXPECT_GT(bucket_kept[b], bucket_kept[b - 1]);
    }
  }
}

TEST(TaskArithmeticFamily, DellaGivesEqualMagnitudesTheDensity) {
  // Rows of one magnitude (random signs): every entry shares the mean rank (cols + 1)/2, so p is
  // density − ε + 2ε·½ = density exactly (ε = 0.25: every step exact), and DELLA keeps what DARE
  // keeps at that density: the same generator stream, the same draws.
  const size_t rows = 40, cols = 77;
  std::vector<float> x(rows * cols);
  std::mt19937 gen(4);
  for (auto& v : x) v = gen() % 2 ? 0.375f : -0.375f;
  auto run = [&](const char* method, double epsilon) {
    Case c;
    c.method = method;
    c.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
    c.base.assign(rows * cols, 0.0f);
    c.models = {x};
    c.o.weight = {1.0};
    c.o.density = {0.5};
    if (epsilon > 0) c.o.epsilon = {epsilon};
    c.o.rescale = false;
    return harness(c).run();
  };
  const auto della = run("della_linear", 0.25), dare = run("dare_linear", 0);
  size_t kept = 0;
  for (size_t e = 0; e < x.size(); ++e) {
    ASSERT_EQ(della[e], dare[e]) << "entry " << e;
    kept += della[e] != 0;
  }
  EXPECT_GT(kept, x.size() / 3);
  EXPECT_LT(kept, x.size() * 2 / 3);
}

TEST(TaskArithmeticFamily, BreadcrumbsSurvivorsEqualTarget) {
  for (size_t n : {5u, 50u, 99u, 100u, 1000u}) {
    Case c;
    c.method = "breadcrumbs";
    c.shape = {static_cast<int64_t>(n)};
    c.base.assign(n, 0.0f);
    c.models = {normal_values(n, static_cast<uint32_t>(n))};
    c.o.weight = {1.0};
    c.o.density = {0.4};  // gamma default 0.01: gamma·n < 1 below 100 elements
    auto out = expect_matches_reference(c);
    int64_t kept = std::count_if(out.begin(), out.end(), [](float v) { return v != 0; });
    EXPECT_EQ(kept, static_cast<int64_t>(std::floor(0.4 * n))) << n;
  }
}

TEST(TaskArithmeticFamily, SeedDecidesRandomMasks) {
  for (const auto& method : {"dare_ties", "della"}) {
    Case c = make_case(method, {16, 16}, 2, 900);
    c.o.density = {0.5, 0.5};
    c.o.seed = 1;
    auto a = harness(c).run(), b = harness(c).run(16);
    EXPECT_EQ(a, b) << method;
    c.o.seed = 2;
    auto other = harness(c).run();
    EXPECT_NE(a, other) << method;
  }
}

TEST(TaskArithmeticFamily, PaperSignRuleDiffersWhereWeightsOutvote) {
  // One element, two models: δ = +1 (weight 1) and δ = −0.5 (weight 3).
  Case c;
  c.method = "ties";
  c.shape = {1};
  c.base = {0.0f};
  c.models = {{1.0f}, {-0.5f}};
  c.o.weight = {1.0, 3.0};
  auto mergekit = expect_matches_reference(c, "weighted");
  EXPECT_FLOAT_EQ(mergekit[0], -0.5f);  // 1 − 1.5 < 0 elects −: the second model alone
  c.o.paper = true;
  auto paper = expect_matches_reference(c, "paper");
  EXPECT_FLOAT_EQ(paper[0], 1.0f);  // 1 − 0.5 > 0 elects +: the first model alone
}

void expect_error(Case c, const std::string& needle) {
  try {
    harness(c).run();
    FAIL() << "expected an error containing " << needle;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(needle), std::string::npos) << m;
    EXPECT_NE(m.find(kTensor), std::string::npos) << m;
    EXPECT_NE(m.find("model1"), std::string::npos) << m;
  }
}

TEST(TaskArithmeticFamily, CheckRejectsBadParameters) {
  Case c = make_case("ties", {4}, 1, 1000);
  c.o.density = {0.0};
  expect_error(c, "prune the whole task vector");
  Case d = make_case("della", {4}, 1, 1001);
  d.o.density = {0.3};
  d.o.epsilon = {0.3};
  expect_error(d, "epsilon");
  Case b = make_case("breadcrumbs", {4}, 1, 1002);
  b.o.density = {0.5};
  b.o.gamma = {-0.5};
  expect_error(b, "gamma");
  Case r = make_case("dare_linear", {4}, 1, 1003);
  r.o.density = {-0.5};
  expect_error(r, "density");
}

TEST(TaskArithmeticFamily, WeightIsRequiredExceptForTheBase) {
  MethodHarness h("ties", kTensor);
  h.add_base({1, 2}, {2});
  h.add({1, 3}, {2});
  EXPECT_THROW(h.run(), Error);
}

TEST(TaskArithmeticFamily, ParameterSchemaMatchesMergekitDefaults) {
  struct Row {
    const char* name;
    double normalize, rescale;
    const char* extra;  // gamma / epsilon / none
    bool consensus;
  };
  for (const Row& r : {Row{"task_arithmetic", 0, 0, "", false}, Row{"ties", 1, 0, "", true},
                       Row{"dare_ties", 0, 1, "", true}, Row{"dare_linear", 0, 1, "", false},
                       Row{"breadcrumbs", 0, 0, "gamma", false}, Row{"breadcrumbs_ties", 0, 0, "gamma", true},
                       Row{"della", 1, 1, "epsilon", true}, Row{"della_linear", 0, 1, "epsilon", false}}) {
    const MethodSpec* m = find_method(r.name);
    ASSERT_TRUE(m) << r.name;
    EXPECT_EQ(m->base, BaseUse::Required);
    auto global = [&](const std::string& n) -> const ParamSpec* {
      for (const auto& p : m->global_params)
        if (p.name == n) return &p;
      return nullptr;
    };
    auto model = [&](const std::string& n) -> const ParamSpec* {
      for (const auto& p : m->model_params)
        if (p.name == n) return &p;
      return nullptr;
    };
    ASSERT_TRUE(global("normalize") && global("rescale") && global("lambda") && global("int8_mask")) << r.name;
    EXPECT_EQ(*global("normalize")->default_value, r.normalize) << r.name;
    EXPECT_EQ(*global("rescale")->default_value, r.rescale) << r.name;
    EXPECT_EQ(*global("lambda")->default_value, 1.0);
    EXPECT_EQ(*global("int8_mask")->default_value, 0.0);
    EXPECT_EQ(global("ties_paper_sign") != nullptr, r.consensus) << r.name;
    ASSERT_TRUE(model("weight") && model("density"));
    EXPECT_TRUE(model("weight")->required);
    EXPECT_EQ(*model("density")->default_value, 1.0);
    EXPECT_EQ(model("gamma") != nullptr, std::string(r.extra) == "gamma") << r.name;
    EXPECT_EQ(model("epsilon") != nullptr, std::string(r.extra) == "epsilon") << r.name;
    if (model("gamma")) {
      EXPECT_EQ(*model("gamma")->default_value, 0.01);
    }
    if (model("epsilon")) {
      EXPECT_EQ(*model("epsilon")->default_value, 0.15);
    }
  }
}

}  // namespace
}  // namespace alloy
