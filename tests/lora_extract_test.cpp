// `alloy extract-lora` end to end: on a fine-tune whose task vectors have exact rank 2, the
// extracted adapter applied to the base (lora/apply_adapter.h) gives back the fine-tune to float
// rounding; on a dense (full-rank) fine-tune each module's reported error is the share of the
// singular values it discarded, computed here by a one-sided Jacobi SVD; bad input leaves no output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "lora/apply_adapter.h"
#include "tensor/view_rows.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;

std::vector<double> values(const TensorView& v) {
  std::vector<float> f(static_cast<size_t>(v.numel()));
  read_view_rows(v, 0, v.rows(), f.data());
  return {f.begin(), f.end()};
}

// Singular values of m [rows, cols] (row-major) by one-sided Jacobi rotations of its columns,
// squared and sorted descending.
std::vector<double> squared_singular_values(std::vector<double> m, int64_t rows, int64_t cols) {
  auto col_dot = [&](int64_t p, int64_t q) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += m[i * cols + p] * m[i * cols + q];
    return s;
  };
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < cols; ++p)
      for (int64_t q = p + 1; q < cols; ++q) {
        const double a = col_dot(p, p), b = col_dot(q, q), c = col_dot(p, q);
        if (std::fabs(c) <= 1e-300) continue;
        off = std::max(off, std::fabs(c) / std::sqrt(a * b));
        const double zeta = (b - a) / (2 * c);
        const double t = (zeta >= 0 ? 1 : -1) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        const double cs = 1 / std::sqrt(1 + t * t), sn = cs * t;
        for (int64_t i = 0; i < rows; ++i) {
          const double x = m[i * cols + p], y = m[i * cols + q];
          m[i * cols + p] = cs * x - sn * y;
          m[i * cols + q] = sn * x + cs * y;
        }
      }
    if (off < 1e-15) break;
  }
  std::vector<double> s2;
  for (int64_t p = 0; p < cols; ++p) s2.push_back(col_dot(p, p));
  std::sort(s2.rbegin(), s2.rend());
  return s2;
}

void write_model(const fs::path& file, const std::map<std::string, std::pair<Shape, std::vector<float>>>& tensors) {
  std::vector<NamedTensor> named;
  for (const auto& [name, t] : tensors) {
    TensorView v;
    v.shape = t.first;
    v.data = reinterpret_cast<const std::byte*>(t.second.data());
    v.nbytes = t.second.size() * sizeof(float);
    named.push_back({name, v});
  }
  write_safetensors(file, named);
}

json report_module(const json& report, const std::string& module) {
  for (const auto& m : report["modules"])
    if (m["module"] == module) return m;
  ADD_FAILURE() << "no module " << module << " in the report";
  return json::object();
}

TEST(LoraExtract, ExactRankTaskVectorsComeBackThroughTheAdapter) {
  TempDir tmp;
  write_fixture_family(testing::small_llama(2), tmp / "family");
  auto base = Checkpoint::open(tmp / "family/base");
  // ft: every weight matrix plus a rank-2 product; the embeddings and one norm changed in full.
  std::map<std::string, std::pair<Shape, std::vector<float>>> ft;
  int seed = 0;
  for (const std::string& name : base->tensor_names()) {
    const TensorView v = base->tensor(name);
    std::vector<double> w = values(v);
    ++seed;
    if (v.shape.size() == 2 && name != "model.embed_tokens.weight" && name != "lm_head.weight") {
      const int64_t rows = v.shape[0], cols = v.shape[1];
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < cols; ++c)
          for (int k = 0; k < 2; ++k)
            w[i * cols + c] += 0.1 * std::sin(seed + 1.3 * k + 0.7 * i) * 0.1 * std::cos(2 * seed - k + 0.45 * c);
    } else if (name == "model.embed_tokens.weight" || name == "model.layers.1.input_layernorm.weight") {
      for (size_t i = 0; i < w.size(); ++i) w[i] += 0.01 * std::sin(0.37 * i);
    }
    ft[name] = {v.shape, std::vector<float>(w.begin(), w.end())};
  }
  fs::copy(tmp / "family/base", tmp / "ft");
  write_model(tmp / "ft/model.safetensors", ft);

  auto r = run_alloy("extract-lora ft family/base adapter --rank 2", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const json report = json::parse(read_file(tmp / "adapter/extract_report.json"));
  const json q = report_module(report, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(q["kind"], "lora");
  EXPECT_EQ(q["rank"], 2);
  EXPECT_LT(q["relative_error"].get<double>(), 1e-5);
  EXPECT_EQ(report_module(report, "model.embed_tokens")["kind"], "saved");
  EXPECT_EQ(report_module(report, "model.layers.1.input_layernorm")["kind"], "saved");
  const json config = json::parse(read_file(tmp / "adapter/adapter_config.json"));
  EXPECT_EQ(config["r"], 2);
  EXPECT_EQ(config["lora_alpha"], 2);

  auto applied = open_with_lora_adapter(tmp / "family/base", {}, tmp / "adapter");
  // Float rounding at each tensor's scale: the fine-tune's own rounding to f32 and that of the
  // stored factors, both a few units of 2⁻²⁴ of the tensor's largest magnitude.
  for (const auto& [name, t] : ft) {
    const std::vector<double> got = values(applied->tensor(name));
    double largest = 0, worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      largest = std::max(largest, std::fabs(double(t.second[i])));
      worst = std::max(worst, std::fabs(got[i] - t.second[i]));
    }
    EXPECT_LE(worst, 2 * testing::ulp_of(largest, DType::F32)) << name;
  }
}

TEST(LoraExtract, FullRankErrorIsTheDiscardedSingularValues) {
  TempDir tmp;
  write_fixture_family(testing::small_llama(2), tmp / "family");
  auto r = run_alloy("extract-lora family/ft1 family/base adapter --rank 4 -i q_proj -i down_proj -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const json report = json::parse(read_file(tmp / "adapter/extract_report.json"));
  auto base = Checkpoint::open(tmp / "family/base"), ft = Checkpoint::open(tmp / "family/ft1");
  for (const std::string module : {"model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"}) {
    const TensorView w = ft->tensor(module + ".weight");
    std::vector<double> delta = values(w);
    const std::vector<double> b = values(base->tensor(module + ".weight"));
    for (size_t i = 0; i < delta.size(); ++i) delta[i] -= b[i];
    const std::vector<double> s2 = squared_singular_values(delta, w.shape[0], w.shape[1]);
    double all = 0, discarded = 0;
    for (size_t j = 0; j < s2.size(); ++j) (j < 4 ? all : discarded) += s2[j];
    all += discarded;
    const double want = std::sqrt(discarded / all);
    const json m = report_module(report, module);
    EXPECT_EQ(m["rank"], 4) << module;
    EXPECT_NEAR(m["discarded_fraction"].get<double>(), want, 1e-12) << module;
    // The factors as stored (f32) add rounding of order 1e-7 of ‖ΔW‖ to the truncation's error.
    EXPECT_NEAR(m["relative_error"].get<double>(), want, 1e-5 * want) << module;
    EXPECT_GT(want, 0.5) << module;  // a dense task vector: rank 4 leaves most of it
  }
  // Filtered out: neither factors nor a whole copy.
  for (const auto& m : report["modules"]) EXPECT_NE(m["module"], "model.layers.0.self_attn.k_proj");
  const json config = json::parse(read_file(tmp / "adapter/adapter_config.json"));
  EXPECT_EQ(config["target_modules"], json({"down_proj", "q_proj"}));
  std::vector<std::string> saved = config["modules_to_save"];
  std::sort(saved.begin(), saved.end());
  EXPECT_EQ(saved, std::vector<std::string>({"lm_head", "model.embed_tokens"}));
}

TEST(LoraExtract, RefusedInputLeavesNoOutput) {
  TempDir tmp;
  write_fixture_family(testing::small_llama(2), tmp / "two");
  write_fixture_family(testing::small_llama(3), tmp / "three");
  auto r = run_alloy("extract-lora three/ft1 two/base adapter --rank 2", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("model.layers.2."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lacks"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "adapter"));
  r = run_alloy("extract-lora two/ft1 two/base adapter --rank 2 --cuda", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(fs::exists(tmp / "adapter"));
  // An existing OUT is kept unless --force.
  fs::create_directories(tmp / "adapter");
  testing::write_file(tmp / "adapter/keep", "x");
  r = run_alloy("extract-lora two/ft1 two/base adapter --rank 2", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "adapter/keep"));
  r = run_alloy("extract-lora two/ft1 two/base adapter --rank 2 --force -q", tmp.path());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "adapter/keep"));
  EXPECT_TRUE(fs::exists(tmp / "adapter/adapter_model.safetensors"));
}

}  // namespace
}  // namespace alloy
