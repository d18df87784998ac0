// End-to-end tests of GGUF models in recipes (`alloy merge` with .gguf inputs, safetensors output).
// References: llama.cpp's own conversion of stories260K (tests/data/stories260K/gguf/base.gguf is
// convert_hf_to_gguf.py's output for base/), and Q8_0 files written here from the format
// description, whose values the test knows from the bytes it wrote (d·q per block).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "gguf_bytes.h"
#include "io/checkpoint.h"
#include "io/gguf_dequantise.h"
#include "io/gguf_model.h"
#include "llama_cpp_names.h"
#include "plan/merge_plan.h"
#include "recipe/recipe.h"
#include "tensor/convert.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;
using testing::hf_row_of_gguf_row;
using testing::llama_cpp_name;

const fs::path kData = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";

// stories260K: 8 query heads and 4 key/value heads of 8 rows each.
int64_t head_dim_of(const std::string& hf) {
  return hf.find("q_proj") != std::string::npos || hf.find("k_proj") != std::string::npos ? 8 : 0;
}

std::string recipe_of(const std::vector<std::pair<std::string, double>>& models) {
  std::string r = "merge_method: linear\ndtype: float32\nmodels:\n";
  for (const auto& [path, w] : models) r += "  - model: " + path + "\n    parameters:\n      weight: " + std::to_string(w) + "\n";
  return r;
}

std::vector<float> values(const Checkpoint& ck, const std::string& name) {
  const TensorView v = ck.tensor(name);
  std::vector<float> f(static_cast<size_t>(v.numel()));
  to_f32(v.dtype, v.data, f.data(), f.size());
  return f;
}

// A GGUF merged with its safetensors twin gives the twin's values to the last bit
// (0.25·x + 0.75·x = x), under HF names, with the twin's config.json.
TEST(GgufInput, MergesWithItsSafetensorsTwin) {
  TempDir dir;
  write_file(dir / "r.yml", recipe_of({{(kData / "gguf/base.gguf").string(), 0.25}, {(kData / "base").string(), 0.75}}));
  const auto r = run_alloy("merge r.yml out", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = Checkpoint::open(dir / "out");
  const auto twin = Checkpoint::open(kData / "base");
  ASSERT_EQ(out->tensor_names().size(), twin->tensor_names().size());
  for (const std::string& name : twin->tensor_names()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(values(*out, name), values(*twin, name));
  }
  for (const char* key : {"architectures", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                          "hidden_size", "vocab_size", "tie_word_embeddings"})
    EXPECT_EQ(out->config().at(key), twin->config().at(key)) << key;
}

// Writes base.gguf's tensors again, each matrix whose rows are whole 32-element blocks as Q8_0
// (scale = max|x|/127 rounded to f16, codes round(x/scale)), scaled by `factor`; returns every
// tensor's values as the file holds them (d·q), in llama.cpp's row order.
std::map<std::string, std::vector<double>> write_q8_0_copy(const fs::path& file, double factor) {
  const GgufModel base = GgufModel::open(kData / "gguf/base.gguf");
  testing::GgufBuilder b;
  for (const GgufKeyValue& kv : base.metadata())
    if (kv.key.starts_with("llama.") && kv.value.as_int()) b.kv_u32(kv.key, static_cast<uint32_t>(*kv.value.as_int()));
  b.kv_string("general.architecture", "llama");
  std::map<std::string, std::vector<double>> held;
  for (const GgufTensor& t : base.tensors()) {
    std::vector<float> x = dequantise_tensor(t);
    for (float& v : x) v = static_cast<float>(v * factor);
    std::vector<double>& out = held[t.info->name];
    if (t.info->ne.size() != 2 || t.info->ne[0] % 32 != 0) {
      b.tensor(t.info->name, t.info->ne, 0, testing::f32_data(x));
      out.assign(x.begin(), x.end());
      continue;
    }
    std::string blocks;
    for (size_t s = 0; s < x.size(); s += 32) {
      float amax = 0;
      for (size_t i = s; i < s + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
      const uint16_t d16 = f32_to_f16(amax / 127.0f);
      const double d = f16_to_f32(d16);
      blocks += testing::u16_bytes(d16);
      for (size_t i = s; i < s + 32; ++i) {
        const int q = d == 0 ? 0 : static_cast<int>(std::lround(x[i] / d));
        blocks += static_cast<char>(static_cast<int8_t>(std::clamp(q, -127, 127)));
        out.push_back(d * std::clamp(q, -127, 127));
      }
    }
    b.tensor(t.info->name, t.info->ne, 8, blocks);
  }
  write_file(file, b.build());
  return held;
}

// A linear merge of quantised GGUF inputs equals the weighted sum of the values the files hold,
// read back under HF names in HF row order.
TEST(GgufInput, LinearMergeOfQuantisedInputsIsMergeOfTheirValues) {
  TempDir dir;
  const auto a = write_q8_0_copy(dir / "a.gguf", 1.0);
  const auto b = write_q8_0_copy(dir / "b.gguf", -0.5);
  write_file(dir / "r.yml", recipe_of({{"a.gguf", 0.3}, {"b.gguf", 0.7}}));
  const auto r = run_alloy("merge r.yml out", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = Checkpoint::open(dir / "out");
  const auto twin = Checkpoint::open(kData / "base");
  int quantised = 0;
  for (const std::string& name : twin->tensor_names()) {
    SCOPED_TRACE(name);
    const std::string gguf_name = llama_cpp_name(name);
    const std::vector<double>&va = a.at(gguf_name), &vb = b.at(gguf_name);
    const TensorView v = out->tensor(name);
    ASSERT_EQ(v.shape, twin->tensor(name).shape);
    const int64_t cols = v.row_length(), head_dim = head_dim_of(name);
    std::vector<double> want(va.size());
    for (int64_t row = 0; row < v.rows(); ++row)
      for (int64_t c = 0; c < cols; ++c) {
        const size_t from = static_cast<size_t>(row * cols + c);
        const size_t to = static_cast<size_t>((head_dim ? hf_row_of_gguf_row(row, head_dim) : row) * cols + c);
        want[to] = 0.3 * va[from] + 0.7 * vb[from];
      }
    const std::vector<float> got = values(*out, name);
    testing::expect_close({got.begin(), got.end()}, want, DType::F32, name);
    quantised += cols % 32 == 0 && v.shape.size() == 2;
  }
  EXPECT_GT(quantised, 20);
}

// GGUF into GGUF: llama.cpp's names are the layer templates and <arch>.block_count the layer count,
// so a frankenmerge renumbers blk.N and sets the count; a passthrough of a quantised tensor keeps
// its stored blocks in view (type and bytes) for the writer, and is never a plain byte copy.
TEST(GgufInput, SlicesOverLlamaCppNames) {
  TempDir dir;
  write_q8_0_copy(dir / "q.gguf", 1.0);
  const Recipe recipe = parse_recipe(
      "merge_method: passthrough\nslices:\n  - sources:\n      - model: q.gguf\n        layer_range: [0, 2]\n"
      "  - sources:\n      - model: q.gguf\n        layer_range: [3, 5]\n",
      (dir / "r.yml").string());
  PlanOptions options;
  options.recipe_dir = dir.path();
  options.gguf_output = true;
  const MergePlan plan = make_plan(recipe, options);
  std::map<std::string, const TensorJob*> jobs;
  for (const TensorJob& job : plan.jobs) jobs[job.out.name] = &job;
  EXPECT_EQ(plan.config["llama"]["block_count"], 4);
  ASSERT_TRUE(jobs.count("blk.3.attn_q.weight"));
  EXPECT_FALSE(jobs.count("blk.4.attn_q.weight"));
  EXPECT_EQ(jobs.at("blk.3.attn_q.weight")->call.inputs[0].name, "blk.4.attn_q.weight");
  EXPECT_EQ(jobs.at("blk.1.attn_q.weight")->call.inputs[0].name, "blk.1.attn_q.weight");
  const TensorJob& q = *jobs.at("blk.3.attn_q.weight");
  EXPECT_EQ(q.call.inputs[0].view.quantised, GgmlType::Q8_0);
  EXPECT_EQ(q.call.inputs[0].view.nbytes, 64u / 32 * 34 * 64);
  EXPECT_NE(q.method, nullptr);
  EXPECT_EQ(jobs.at("blk.3.ffn_down.weight")->method, nullptr);  // F32 as stored: a byte copy
}

// Mixed with safetensors, the GGUF reads under HF names, so a filter on HF names applies to both.
TEST(GgufInput, FilterOnHfNamesAppliesToTheGguf) {
  TempDir dir;
  write_file(dir / "r.yml", "merge_method: linear\ndtype: float32\nmodels:\n  - model: " +
                                (kData / "gguf/base.gguf").string() +
                                "\n    parameters:\n      weight:\n        - filter: self_attn\n          value: 1.0\n"
                                "        - value: 0.0\n  - model: " + (kData / "python").string() +
                                "\n    parameters:\n      weight:\n        - filter: self_attn\n          value: 0.0\n"
                                "        - value: 1.0\n");
  const auto r = run_alloy("merge r.yml out", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = Checkpoint::open(dir / "out");
  const auto base = Checkpoint::open(kData / "base"), python = Checkpoint::open(kData / "python");
  EXPECT_EQ(values(*out, "model.layers.2.self_attn.k_proj.weight"), values(*base, "model.layers.2.self_attn.k_proj.weight"));
  EXPECT_EQ(values(*out, "model.layers.2.mlp.up_proj.weight"), values(*python, "model.layers.2.mlp.up_proj.weight"));
}

// A recipe naming a corrupt GGUF fails naming the file, and leaves no output.
TEST(GgufInput, CorruptGgufInRecipeNamesTheFile) {
  TempDir dir;
  const std::string bytes = testing::read_file(kData / "gguf/base.gguf");
  write_file(dir / "bad.gguf", bytes.substr(0, 4096));
  write_file(dir / "r.yml", recipe_of({{"bad.gguf", 0.5}, {(kData / "base").string(), 0.5}}));
  const auto r = run_alloy("merge r.yml out", dir.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bad.gguf"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace alloy
