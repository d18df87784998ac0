// Every architecture fixture (tools/fixtures/architectures/*.json: real tensor names and shape
// relations, tiny dimensions) is recognised by its description in data/architectures/, and merges:
// a linear merge of base and fine-tune equals the float64 weighted sum of the inputs in every
// tensor, and a slice frankenmerge copies each output layer from the input layer the slices name.
// MoE fine-tunes merge expert by expert, with routers under the recipe's parameters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "arch/architecture.h"
#include "exec/run_merge.h"
#include "fixtures/arch_fixture.h"
#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kFixtureDir = fs::path(ALLOY_SOURCE_DIR) / "tools" / "fixtures" / "architectures";
const fs::path kDescriptionDir = fs::path(ALLOY_SOURCE_DIR) / "data" / "architectures";

json read_json(const fs::path& p) { return json::parse(testing::read_file(p)); }

// Writes base and the given fine-tunes of fixture `name` under `dir`.
std::vector<WrittenModel> write_family(const std::string& name, const fs::path& dir, std::vector<TaskKind> kinds) {
  FixtureSpec spec;
  spec.arch = std::make_shared<ArchFixture>(load_arch_fixture(kFixtureDir / (name + ".json")));
  spec.fine_tunes = std::move(kinds);
  spec.task.delta_std = 0.01f;
  spec.seed = 11;
  spec.threads = 1;
  return write_fixture_family(spec, dir);
}

void merge(const fs::path& dir, const std::string& recipe) {
  testing::write_file(dir / "recipe.yml", recipe);
  MergeOptions o;
  o.recipe = dir / "recipe.yml";
  o.out = dir / "out";
  o.threads = 1;
  o.fsync = false;
  o.write_model_card = false;
  run_merge(o);
}

std::set<std::string> names_of(const Checkpoint& ck) {
  const auto& v = ck.tensor_names();
  return {v.begin(), v.end()};
}

// Every name a description lists (names, aliases), as written: templates keep their placeholders.
std::set<std::string> described_names(const fs::path& file) {
  std::set<std::string> out;
  json d = read_json(file);
  for (const char* section : {"pre_weights", "layer_weights", "post_weights"})
    for (const auto& w : d.value(section, json::array())) {
      out.insert(w["name"].get<std::string>());
      for (const auto& a : w.value("aliases", json::array())) out.insert(a.get<std::string>());
    }
  return out;
}

class ArchitectureFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::string description() const {
    json f = read_json(kFixtureDir / (GetParam() + ".json"));
    return f.value("description", GetParam() + ".json");
  }
  testing::TempDir tmp_;
};

TEST_P(ArchitectureFixture, RecognisedMergedAndSliced) {
  const std::string name = GetParam();
  const json fixture = read_json(kFixtureDir / (name + ".json"));

  // Every fixture tensor is named by the description (except ones the fixture marks as not).
  const std::set<std::string> described = described_names(kDescriptionDir / description());
  for (const auto& t : fixture["tensors"]) {
    if (t.value("undescribed", false)) continue;
    EXPECT_TRUE(described.count(t["name"].get<std::string>())) << t["name"] << " is not in " << description();
  }

  auto models = write_family(name, tmp_.path(), {TaskKind::Dense});
  auto base = Checkpoint::open(models[0].dir);
  auto ft1 = Checkpoint::open(models[1].dir);
  const Architecture arch = architecture_of(*base);
  EXPECT_FALSE(arch.inferred);
  EXPECT_EQ(arch.description, description());
  const std::string layers_key = fixture.value("num_layers_key", "num_hidden_layers");
  EXPECT_EQ(arch.num_layers, fixture["config"][layers_key].get<int>());
  if (fixture.contains("num_experts_key")) {
    EXPECT_EQ(arch.num_experts, fixture["config"][fixture["num_experts_key"].get<std::string>()].get<int>());
  }

  // Linear: 0.25 base + 0.75 ft1 in every tensor; tied heads stay tied (absent).
  merge(tmp_.path(), "merge_method: linear\ndtype: float32\nmodels:\n"
                     "  - model: base\n    parameters: {weight: 0.25}\n"
                     "  - model: ft1\n    parameters: {weight: 0.75}\n");
  {
    auto out = Checkpoint::open(tmp_ / "out");
    ASSERT_EQ(names_of(*out), names_of(*base));
    for (const auto& t : out->tensor_names())
      testing::expect_close(testing::tensor_values(*out, t),
                            testing::weighted_sum({testing::tensor_values(*base, t), testing::tensor_values(*ft1, t)},
                                                  {0.25, 0.75}),
                            DType::F32, name + " " + t);
    EXPECT_EQ(out->config()["architectures"], fixture["config"]["architectures"]);
  }
  fs::remove_all(tmp_ / "out");

  // Slices of ft1's layers [0, 2) and [1, 3): output layer j is ft1's layer j (j < 2) or j - 1.
  merge(tmp_.path(), "merge_method: passthrough\ndtype: float32\nslices:\n"
                     "  - sources: [{model: ft1, layer_range: [0, 2]}]\n"
                     "  - sources: [{model: ft1, layer_range: [1, 3]}]\n");
  std::string prefix;  // of the layers the slices count ("model.layers."), from the fixture
  for (const auto& t : fixture["tensors"]) {
    const std::string tmpl = t["name"];
    if (size_t at = tmpl.find(kLayerIndex); at != std::string::npos && !t.contains("layer_count")) {
      prefix = tmpl.substr(0, at);
      break;
    }
  }
  std::map<std::string, std::string> source_of;  // output name -> ft1's tensor
  for (const auto& n : ft1->tensor_names()) {
    size_t dot = n.rfind(prefix, 0) == 0 ? n.find('.', prefix.size()) : std::string::npos;
    if (dot == std::string::npos) {
      source_of[n] = n;
      continue;
    }
    const int layer = std::stoi(n.substr(prefix.size(), dot - prefix.size()));
    for (int j = 0; j < 4; ++j)
      if ((j < 2 ? j : j - 1) == layer) source_of[prefix + std::to_string(j) + n.substr(dot)] = n;
  }
  auto out = Checkpoint::open(tmp_ / "out");
  std::set<std::string> expected;
  for (const auto& [o, s] : source_of) expected.insert(o);
  ASSERT_EQ(names_of(*out), expected);
  for (const auto& [o, s] : source_of)
    ASSERT_EQ(testing::tensor_values(*out, o), testing::tensor_values(*ft1, s)) << name << " " << o << " <- " << s;
  EXPECT_EQ(out->config()[layers_key], 4);
}

// Two fine-tunes of an MoE model merge expert by expert: each expert's output is the task
// arithmetic of that expert's inputs, and the router follows its own filter's weights.
TEST(MoeFineTunes, ExpertsAndRoutersMergeByTheRecipe) {
  struct Case {
    std::string fixture, expert, router;
  };
  for (const Case& c : {Case{"mixtral", "model.layers.2.block_sparse_moe.experts.1.w2.weight",
                             "model.layers.2.block_sparse_moe.gate.weight"},
                        Case{"qwen3-moe", "model.layers.1.mlp.experts.2.up_proj.weight", "model.layers.1.mlp.gate.weight"},
                        Case{"deepseek-v3", "model.layers.2.mlp.experts.0.down_proj.weight",
                             "model.layers.2.mlp.gate.weight"}}) {
    testing::TempDir dir;
    auto models = write_family(c.fixture, dir.path(), {TaskKind::Dense, TaskKind::Dense});
    // Routers ("gate.weight") take ft2's task vector alone; everything else 0.6 ft1 + 0.3 ft2.
    merge(dir.path(), "merge_method: task_arithmetic\nbase_model: base\ndtype: float32\nmodels:\n"
                      "  - model: base\n"
                      "  - model: ft1\n    parameters:\n      weight: [{filter: gate.weight, value: 0.0}, {value: 0.6}]\n"
                      "  - model: ft2\n    parameters:\n      weight: [{filter: gate.weight, value: 1.0}, {value: 0.3}]\n");
    auto out = Checkpoint::open(dir / "out");
    std::vector<std::shared_ptr<const Checkpoint>> in;
    for (const auto& m : models) in.push_back(Checkpoint::open(m.dir));
    auto task_arithmetic = [&](const std::string& t, double w1, double w2) {
      auto base = testing::tensor_values(*in[0], t);
      return testing::weighted_sum({base, testing::tensor_values(*in[1], t), testing::tensor_values(*in[2], t)},
                                   {1.0 - w1 - w2, w1, w2});
    };
    testing::expect_close(testing::tensor_values(*out, c.expert), task_arithmetic(c.expert, 0.6, 0.3), DType::F32,
                          c.fixture + " " + c.expert);
    testing::expect_close(testing::tensor_values(*out, c.router), task_arithmetic(c.router, 0.0, 1.0), DType::F32,
                          c.fixture + " " + c.router);
    EXPECT_EQ(architecture_of(*out).num_experts, 3) << c.fixture;
  }
}

TEST(ArchFixtureCommand, WritesAFamilyOrRefusesDimensions) {
  testing::TempDir dir;
  const std::string file = (kFixtureDir / "qwen3-moe.json").string();
  auto r = testing::run_alloy("fixture " + (dir / "f").string() + " --arch " + file + " --kinds dense,zero");
  ASSERT_EQ(r.status, 0) << r.output;
  auto ft2 = Checkpoint::open(dir / "f" / "ft2");
  EXPECT_EQ(ft2->config()["architectures"], json::array({"Qwen3MoeForCausalLM"}));
  EXPECT_EQ(architecture_of(*ft2).description, "qwen3-moe.json");
  EXPECT_EQ(ft2->tensor("model.layers.2.mlp.experts.2.down_proj.weight").shape, (Shape{16, 8}));
  r = testing::run_alloy("fixture " + (dir / "g").string() + " --arch " + file + " --layers 4");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--arch: the fixture file fixes the family, dimensions"), std::string::npos) << r.output;
}

std::vector<std::string> fixture_names() { return arch_fixture_names(kFixtureDir); }

INSTANTIATE_TEST_SUITE_P(Fixtures, ArchitectureFixture, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

}  // namespace
}  // namespace alloy
