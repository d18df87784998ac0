// The report's figure of merit and formats against hand-worked values.
#include "eval/eval_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// Three models on two texts; mean NLLs chosen so that the ratios are powers of e.
EvalReport three_models() {
  EvalReport r;
  r.models = {"ft/a", "ft/b", "merged"};
  r.texts = {"eval/a.txt", "eval/b.txt"};
  auto cell = [](double mean_nll) { return PerplexityCell{mean_nll * 10, 10}; };
  r.cells = {cell(1.0), cell(3.0),   // a: specialist of a.txt
             cell(2.0), cell(1.0),   // b: specialist of b.txt
             cell(1.5), cell(1.5)};  // merged
  r.specialists = {{0, 0}, {1, 1}};
  return r;
}

TEST(EvalReport, RatioToSpecialistsIsTheGeometricMeanOfThePerplexityRatios) {
  EvalReport r = three_models();
  EXPECT_NEAR(r.at(2, 0).ppl(), std::exp(1.5), 1e-12);
  // merged: exp(((1.5 - 1) + (1.5 - 1)) / 2) = e^0.5; a: exp((0 + 2) / 2) = e; b: exp((1 + 0) / 2).
  EXPECT_NEAR(*r.ratio_to_specialists(2), std::exp(0.5), 1e-12);
  EXPECT_NEAR(*r.ratio_to_specialists(0), std::exp(1.0), 1e-12);
  EXPECT_NEAR(*r.ratio_to_specialists(1), std::exp(0.5), 1e-12);
  r.specialists.clear();
  EXPECT_FALSE(r.ratio_to_specialists(2).has_value());
}

TEST(EvalReport, JsonHasOneResultPerCellInTheDocumentedShape) {
  EvalReport r = three_models();
  nlohmann::json j = eval_json(r);
  ASSERT_EQ(j["results"].size(), 6u);
  const auto& c = j["results"][3];  // model b, text b.txt
  EXPECT_EQ(c["model"], "ft/b");
  EXPECT_EQ(c["text"], "eval/b.txt");
  EXPECT_NEAR(c["ppl"].get<double>(), std::exp(1.0), 1e-12);
  EXPECT_NEAR(c["nll"].get<double>(), 1.0, 1e-12);
  EXPECT_EQ(c["tokens"], 10);
  EXPECT_NEAR(j["ratio_to_specialists"]["merged"].get<double>(), std::exp(0.5), 1e-12);
}

TEST(EvalReport, TableHasAHeaderOfTextNamesAndOneRowPerModel) {
  std::string table = eval_table(three_models());
  EXPECT_NE(table.find("a.txt"), std::string::npos);
  EXPECT_NE(table.find("vs specialists"), std::string::npos);
  EXPECT_NE(table.find("merged"), std::string::npos);
  EXPECT_NE(table.find("20.086"), std::string::npos);  // e^3, ft/a on b.txt
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4);
}

}  // namespace
}  // namespace alloy
