// The declarative end-to-end cases: every folder of tests/recipes/ holds a recipe.yml and an
// expected.json, and is one test here. The driver writes one generated model family (family/base,
// family/ft1 .. ft3: llama, 4 layers, float32), runs `alloy merge recipe.yml out [args]` beside it,
// and checks expected.json:
//   "error":   substrings of the one-line message; the merge must fail and leave no output.
//   "tensors": output tensor -> {model: weight} (or {"model:tensor": weight} to read another name);
//              the expected values are Σ weight · input in float64 from the family's own weights,
//              and the output must be within one float32 ulp of them. Weights may be "a/b" strings.
//   "config":  keys of the output config.json and their values.
//   "args":    extra command-line options.
// Adding a case is adding a folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kCases = fs::path(ALLOY_SOURCE_DIR) / "tests" / "recipes";

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kCases))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

double weight_of(const json& w) {
  if (w.is_number()) return w.get<double>();
  const std::string s = w.get<std::string>();
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return std::stod(s);
  return std::stod(s.substr(0, slash)) / std::stod(s.substr(slash + 1));
}

class RecipeCase : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    family_ = new testing::TempDir;
    write_fixture_family(testing::small_llama(), *family_ / "family");
  }
  static void TearDownTestSuite() {
    delete family_;
    family_ = nullptr;
  }
  static testing::TempDir* family_;
};
testing::TempDir* RecipeCase::family_ = nullptr;

TEST_P(RecipeCase, MergesAsExpected) {
  const fs::path dir = kCases / GetParam();
  const json expected = json::parse(testing::read_file(dir / "expected.json"));
  const fs::path work = family_->path();
  const fs::path out = work / ("out_" + GetParam());
  fs::copy_file(dir / "recipe.yml", work / "recipe.yml", fs::copy_options::overwrite_existing);
  const auto r = testing::run_alloy("merge recipe.yml '" + out.string() + "' -q " + expected.value("args", ""), work);

  if (expected.contains("error")) {
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    for (const auto& part : expected["error"])
      EXPECT_NE(r.output.find(part.get<std::string>()), std::string::npos) << "wanted '" << part << "' in " << r.output;
    EXPECT_FALSE(fs::exists(out));
    return;
  }
  ASSERT_EQ(r.status, 0) << r.output;
  auto merged = Checkpoint::open(out);
  const json tensors = expected.value("tensors", json::object()), config = expected.value("config", json::object());
  for (const auto& [name, weights] : tensors.items()) {
    std::vector<std::vector<double>> inputs;
    std::vector<double> w;
    for (const auto& [source, weight] : weights.items()) {
      const size_t colon = source.find(':');
      const std::string model = source.substr(0, colon);
      const std::string tensor = colon == std::string::npos ? name : source.substr(colon + 1);
      inputs.push_back(testing::tensor_values(*Checkpoint::open(work / "family" / model), tensor));
      w.push_back(weight_of(weight));
    }
    const std::vector<double> got = testing::tensor_values(*merged, name), want = testing::weighted_sum(inputs, w);
    if (!expected.value("rounded_between_stages", false)) {
      testing::expect_close(got, want, DType::F32, name);
      continue;
    }
    // A stage's output is rounded to float32 before the next stage reads it: allow one ulp of the
    // largest weighted input beside the final rounding's ulp (the result may be far smaller).
    for (size_t i = 0; i < got.size(); ++i) {
      double largest = 0;
      for (size_t k = 0; k < inputs.size(); ++k) largest = std::max(largest, std::fabs(w[k] * inputs[k][i]));
      ASSERT_LE(std::fabs(got[i] - want[i]), testing::ulp_of(want[i], DType::F32) + testing::ulp_of(largest, DType::F32))
          << name << " element " << i;
    }
  }
  for (const auto& [key, value] : config.items())
    EXPECT_EQ(merged->config()[key], value) << key;
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RecipeCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace alloy
