// End-to-end tests of `alloy analyze`: on a fixture family written here (dense, sign-conflicting,
// sparse and zero task vectors) every number of --json equals a float64 computation over the raw
// values, grouped by the tensor names as this test reads them; the same on the real stories260K
// fine-tunes; the SVG is well-formed with one cell per (layer, pair); any thread count gives the
// same output; models with other tensors or shapes are refused naming the tensor and the model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test_support.h"
#include "xml_check.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_alloy_apart;

// Float64 sums of one group of tensors, computed directly over the stored values.
struct RefGroup {
  int tensors = 0;
  uint64_t elements = 0;
  std::vector<double> squares;
  std::map<std::pair<int, int>, double> dots;
  std::map<std::pair<int, int>, uint64_t> both, differ;
  uint64_t several = 0, mixed = 0;
};

// "model.layers.3.mlp.up_proj.weight" -> row "3", kind "mlp.up_proj.weight"; the final norm and
// lm_head -> "post"; anything else (the embeddings) -> "pre", kind = the name.
std::pair<std::string, std::string> row_and_kind(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) == 0) {
    size_t dot = name.find('.', prefix.size());
    return {name.substr(prefix.size(), dot - prefix.size()), name.substr(dot + 1)};
  }
  if (name == "model.norm.weight" || name == "lm_head.weight") return {"post", name};
  return {"pre", name};
}

struct Reference {
  std::map<std::string, RefGroup> rows, kinds;
  RefGroup whole;
};

Reference reference(const fs::path& base_dir, const std::vector<fs::path>& model_dirs) {
  auto base = Checkpoint::open(base_dir);
  std::vector<std::shared_ptr<const Checkpoint>> models;
  for (const auto& d : model_dirs) models.push_back(Checkpoint::open(d));
  const int k = static_cast<int>(models.size());
  Reference ref;
  for (const std::string& name : base->tensor_names()) {
    const std::vector<double> b = testing::tensor_values(*base, name);
    std::vector<std::vector<double>> tau;
    for (const auto& m : models) {
      std::vector<double> v = testing::tensor_values(*m, name);
      for (size_t e = 0; e < v.size(); ++e) v[e] -= b[e];
      tau.push_back(std::move(v));
    }
    auto [row, kind] = row_and_kind(name);
    for (RefGroup* g : {&ref.rows[row], &ref.kinds[kind], &ref.whole}) {
      g->squares.resize(k, 0.0);
      ++g->tensors;
      g->elements += b.size();
      for (size_t e = 0; e < b.size(); ++e) {
        int pos = 0, neg = 0;
        for (int i = 0; i < k; ++i) {
          g->squares[i] += tau[i][e] * tau[i][e];
          pos += tau[i][e] > 0;
          neg += tau[i][e] < 0;
          for (int j = i + 1; j < k; ++j) {
            g->dots[{i, j}] += tau[i][e] * tau[j][e];
            if (tau[i][e] != 0 && tau[j][e] != 0) {
              ++g->both[{i, j}];
              if ((tau[i][e] > 0) != (tau[j][e] > 0)) ++g->differ[{i, j}];
            }
          }
        }
        if (pos + neg >= 2) {
          ++g->several;
          if (pos > 0 && neg > 0) ++g->mixed;
        }
      }
    }
  }
  return ref;
}

// Every number of one JSON group against the reference group.
void expect_group(const json& got, const RefGroup& want, int models, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got["tensors"].get<int>(), want.tensors);
  EXPECT_EQ(got["elements"].get<uint64_t>(), want.elements);
  for (int i = 0; i < models; ++i)
    EXPECT_NEAR(got["norms"][i].get<double>(), std::sqrt(want.squares[i]), 1e-12 * std::sqrt(want.squares[i])) << i;
  int p = 0;
  uint64_t both = 0, differ = 0;
  for (int i = 0; i < models; ++i)
    for (int j = i + 1; j < models; ++j, ++p) {
      const double ni = std::sqrt(want.squares[i]), nj = std::sqrt(want.squares[j]);
      if (ni == 0 || nj == 0) {
        EXPECT_TRUE(got["cosines"][p].is_null()) << i << "," << j;
      } else {
        EXPECT_NEAR(got["cosines"][p].get<double>(), want.dots.at({i, j}) / (ni * nj), 1e-12) << i << "," << j;
      }
      const uint64_t b = want.both.count({i, j}) ? want.both.at({i, j}) : 0;
      const uint64_t d = want.differ.count({i, j}) ? want.differ.at({i, j}) : 0;
      both += b, differ += d;
      if (b == 0) {
        EXPECT_TRUE(got["pair_conflicts"][p].is_null());
      } else {
        EXPECT_DOUBLE_EQ(got["pair_conflicts"][p].get<double>(), static_cast<double>(d) / b);
      }
    }
  if (both == 0) {
    EXPECT_TRUE(got["conflict"].is_null());
  } else {
    EXPECT_DOUBLE_EQ(got["conflict"].get<double>(), static_cast<double>(differ) / both);
  }
  if (want.several == 0) {
    EXPECT_TRUE(got["mixed_signs"].is_null());
  } else {
    EXPECT_DOUBLE_EQ(got["mixed_signs"].get<double>(), static_cast<double>(want.mixed) / want.several);
  }
}

void expect_report(const json& j, const Reference& ref, int models, const std::vector<std::string>& rows) {
  ASSERT_EQ(j["layers"].size(), rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    EXPECT_EQ(j["layers"][r]["label"], rows[r]);
    expect_group(j["layers"][r], ref.rows.at(rows[r]), models, "row " + rows[r]);
  }
  ASSERT_EQ(j["kinds"].size(), ref.kinds.size());
  for (const json& k : j["kinds"]) expect_group(k, ref.kinds.at(k["label"]), models, "kind " + k["label"].get<std::string>());
  expect_group(j["model"], ref.whole, models, "whole model");
}

FixtureSpec family_spec() {
  FixtureSpec s;
  s.family = Family::Llama;
  s.dims = FixtureDims{2, 32, 48, 64, 4, 2, 16};
  s.seed = 11;
  s.fine_tunes = {TaskKind::Dense, TaskKind::SignConflict, TaskKind::Sparse, TaskKind::Zero};
  return s;
}

class AnalyzeFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    write_fixture_family(family_spec(), dir_->path() / "family");
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path model(const std::string& name) { return dir_->path() / "family" / name; }
  static inline testing::TempDir* dir_ = nullptr;
};

TEST_F(AnalyzeFixture, EveryNumberEqualsTheFloat64Reference) {
  const fs::path svg = dir_->path() / "map.svg";
  auto r = run_alloy_apart({"analyze", model("base"), model("ft1"), model("ft2"), model("ft3"), model("ft4"), "--json",
                            "--svg", svg.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  const Reference ref = reference(model("base"), {model("ft1"), model("ft2"), model("ft3"), model("ft4")});
  expect_report(j, ref, 4, {"pre", "0", "1", "post"});
  EXPECT_EQ(j["pairs"], json::parse("[[0,1],[0,2],[0,3],[1,2],[1,3],[2,3]]"));
  EXPECT_EQ(j["base"], model("base").string());
  // The fixture's own promise: ft2 flips ft1's sign on about 30% of the elements.
  EXPECT_NEAR(j["model"]["pair_conflicts"][0].get<double>(), 0.3, 0.02);
  // ft4 equals the base: norm 0, every cosine with it n/a.
  EXPECT_EQ(j["model"]["norms"][3].get<double>(), 0.0);
  for (int p : {2, 4, 5}) EXPECT_TRUE(j["model"]["cosines"][p].is_null()) << p;

  const std::string text = testing::read_file(svg);
  EXPECT_EQ(testing::xml_problem(text), "");
  EXPECT_EQ(testing::count_of(text, "<rect class=\"cell\""), 4u * 6u);
}

TEST_F(AnalyzeFixture, TableNamesModelsAndEndsWithAdvice) {
  auto r = run_alloy_apart({"analyze", model("base"), model("ft1"), model("ft4")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  A = " + model("ft1").string() + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cos AB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n/a"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("advice: fewer than two models differ from the base"), std::string::npos) << r.out;
}

TEST_F(AnalyzeFixture, SameOutputForAnyThreadCount) {
  std::vector<std::string> args{"analyze", model("base"), model("ft1"), model("ft2"), model("ft3"), "--json"};
  auto one = args, three = args;
  one.insert(one.end(), {"-j", "1"});
  three.insert(three.end(), {"-j", "3"});
  auto a = run_alloy_apart(one), b = run_alloy_apart(three);
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(AnalyzeFixture, OtherTensorSetsAreRefusedByName) {
  FixtureSpec deeper = family_spec();
  deeper.dims.layers = 3;
  deeper.fine_tunes = {TaskKind::Dense};
  write_fixture_model(deeper, fixture_variant(deeper, 1), dir_->path() / "deeper");
  auto r = run_alloy_apart({"analyze", model("base"), model("ft1"), (dir_->path() / "deeper").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find((dir_->path() / "deeper").string() + " has tensor 'model.layers.2."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("which the base " + model("base").string() + " lacks"), std::string::npos) << r.err;

  FixtureSpec wider = family_spec();
  wider.dims.intermediate = 40;
  wider.fine_tunes = {TaskKind::Dense};
  write_fixture_model(wider, fixture_variant(wider, 1), dir_->path() / "wider");
  r = run_alloy_apart({"analyze", model("base"), (dir_->path() / "wider").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("mlp."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" in " + (dir_->path() / "wider").string() + " but "), std::string::npos) << r.err;

  // A model missing one of the base's tensors.
  auto ft1 = Checkpoint::open(model("ft1"));
  std::vector<NamedTensor> kept;
  for (const auto& name : ft1->tensor_names())
    if (name != "model.layers.1.self_attn.o_proj.weight") kept.push_back({name, ft1->tensor(name)});
  fs::create_directories(dir_->path() / "missing");
  write_safetensors(dir_->path() / "missing" / "model.safetensors", kept);
  fs::copy_file(model("ft1") / "config.json", dir_->path() / "missing" / "config.json");
  r = run_alloy_apart({"analyze", model("base"), (dir_->path() / "missing").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find((dir_->path() / "missing").string() + " lacks tensor 'model.layers.1.self_attn.o_proj.weight'"),
            std::string::npos)
      << r.err;
}

TEST(AnalyzeStories260K, RealFineTunesEndToEnd) {
  const fs::path d = fs::path(ALLOY_SHARED_DIR) / "stories260K";
  testing::TempDir tmp;
  const fs::path svg = tmp / "stories.svg";
  auto r = run_alloy_apart({"analyze", (d / "base").string(), (d / "python").string(), (d / "cheaders").string(),
                            (d / "man").string(), "--json", "--svg", svg.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  const Reference ref = reference(d / "base", {d / "python", d / "cheaders", d / "man"});
  expect_report(j, ref, 3, {"pre", "0", "1", "2", "3", "4", "post"});
  // The fine-tunes froze the token embeddings: their cosines are n/a, not NaN.
  for (const json& k : j["kinds"])
    if (k["label"] == "model.embed_tokens.weight") {
      EXPECT_TRUE(k["cosines"][0].is_null());
    }
  // Mean whole-model cosine from the reference, and the rule's verdict on it.
  double mean = 0;
  for (auto [i, jj] : {std::pair{0, 1}, {0, 2}, {1, 2}})
    mean += ref.whole.dots.at({i, jj}) / std::sqrt(ref.whole.squares[i] * ref.whole.squares[jj]) / 3;
  EXPECT_NEAR(j["advice"]["mean_cosine"].get<double>(), mean, 1e-12);
  EXPECT_EQ(j["advice"]["method"], mean >= 0.3 ? "linear" : "task_arithmetic");

  const std::string text = testing::read_file(svg);
  EXPECT_EQ(testing::xml_problem(text), "");
  EXPECT_EQ(testing::count_of(text, "<rect class=\"cell\""), 7u * 3u);
  if (std::system("command -v xmllint > /dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("xmllint --noout '" + svg.string() + "'").c_str()), 0);
  }
}

}  // namespace
}  // namespace alloy
