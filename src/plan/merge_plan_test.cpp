// The planner alone: which tensors a recipe makes, from which inputs, at which gradient position,
// with which base, and what it refuses. The models are small generated families; the expected
// positions and renumberings are worked out by hand from the spec's rules (§ planning).
#include "plan/merge_plan.h"

#include <gtest/gtest.h>

#include <map>

#include "../../tests/test_support.h"
#include "fixtures/fixture_family.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

class PlanTest : public ::testing::Test {
 protected:
  // A llama family of `layers` layers: family/base, family/ft1, family/ft2.
  void make_family(int layers) {
    FixtureSpec spec;
    spec.dims.layers = layers;
    spec.dims.hidden = 16;
    spec.dims.intermediate = 32;
    spec.dims.vocab = 32;
    spec.dims.heads = 2;
    spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
    write_fixture_family(spec, tmp_ / "family");
  }
  MergePlan plan(const std::string& yaml, PlanOptions options = {}) {
    options.recipe_dir = tmp_.path();
    recipe_ = parse_recipe(yaml, "r.yml");
    return make_plan(recipe_, options);
  }
  std::string plan_error(const std::string& yaml) {
    try {
      plan(yaml);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  testing::TempDir tmp_;
  Recipe recipe_;  // jobs point into the recipe's models' checkpoints, not into the recipe
};

const TensorJob& job(const MergePlan& p, const std::string& name) {
  for (const auto& j : p.jobs)
    if (j.out.name == name) return j;
  throw Error("no job for " + name);
}

// The weight ft1 gets, for weight: [1, 0] (ft1) and [0, 1] (ft2) over the gradient position t:
// 1 - t for ft1.
const char* kGradient = R"(merge_method: linear
models:
  - model: family/ft1
    parameters: {weight: [1, 0]}
  - model: family/ft2
    parameters: {weight: [0, 1]}
)";

TEST_F(PlanTest, GradientPositionOfEveryTensor) {
  make_family(5);
  const MergePlan p = plan(kGradient);
  auto ft1_weight = [&](const std::string& name) { return *job(p, name).call.per_model[0].at("weight"); };
  // Layers: t = i / (5 - 1).
  for (int i = 0; i < 5; ++i)
    EXPECT_DOUBLE_EQ(ft1_weight("model.layers." + std::to_string(i) + ".mlp.up_proj.weight"), 1 - i / 4.0) << i;
  // Pre-layer weights at t = 0; the final norm and lm_head at t = 0 too, as current mergekit.
  EXPECT_DOUBLE_EQ(ft1_weight("model.embed_tokens.weight"), 1.0);
  EXPECT_DOUBLE_EQ(ft1_weight("model.norm.weight"), 1.0);
  EXPECT_DOUBLE_EQ(ft1_weight("lm_head.weight"), 1.0);

  PlanOptions old;
  old.post_weight_t = 1;  // the last layer's value, as mergekit before 0.1.2
  const MergePlan q = plan(kGradient, old);
  EXPECT_DOUBLE_EQ(*job(q, "model.norm.weight").call.per_model[0].at("weight"), 0.0);
  EXPECT_DOUBLE_EQ(*job(q, "lm_head.weight").call.per_model[0].at("weight"), 0.0);
  EXPECT_DOUBLE_EQ(*job(q, "model.embed_tokens.weight").call.per_model[0].at("weight"), 1.0);
}

TEST_F(PlanTest, OneJobPerOutputTensorInOrder) {
  make_family(2);
  const MergePlan p = plan(kGradient);
  auto base = Checkpoint::open(tmp_ / "family/base");
  ASSERT_EQ(p.jobs.size(), base->tensor_names().size());
  EXPECT_EQ(p.jobs.front().out.name, "model.embed_tokens.weight");
  EXPECT_EQ(p.jobs.back().out.name, "lm_head.weight");
  for (const auto& j : p.jobs) {
    EXPECT_TRUE(base->has(j.out.name)) << j.out.name;
    EXPECT_EQ(j.out.shape, base->tensor(j.out.name).shape) << j.out.name;
    ASSERT_EQ(j.call.inputs.size(), 2u) << j.out.name;
    EXPECT_EQ(j.call.inputs[0].label, "family/ft1");
    EXPECT_EQ(j.call.inputs[1].label, "family/ft2");
    EXPECT_EQ(j.call.base, -1);
  }
  EXPECT_EQ(p.config["num_hidden_layers"], 2);
}

// Slices of 2 and 3 layers: output layers 0-1 read ft1's 0-1, output layers 2-4 read ft2's 1-3;
// t restarts in each slice; the first slice gives the embeddings, the last the norm.
TEST_F(PlanTest, FrankenmergeRenumbersLayersAndRestartsPositions) {
  make_family(4);
  const MergePlan p = plan(R"(merge_method: passthrough
slices:
  - sources: [{model: family/ft1, layer_range: [0, 2]}]
  - sources: [{model: family/ft2, layer_range: [1, 4]}]
parameters:
  scale: [0, 1]
)");
  const std::map<int, std::pair<std::string, int>> want = {
      {0, {"family/ft1", 0}}, {1, {"family/ft1", 1}}, {2, {"family/ft2", 1}}, {3, {"family/ft2", 2}}, {4, {"family/ft2", 3}}};
  const std::map<int, double> scale = {{0, 0.0}, {1, 1.0}, {2, 0.0}, {3, 0.5}, {4, 1.0}};
  for (const auto& [out, from] : want) {
    const auto& j = job(p, "model.layers." + std::to_string(out) + ".self_attn.q_proj.weight");
    ASSERT_EQ(j.call.inputs.size(), 1u);
    EXPECT_EQ(j.call.inputs[0].label, from.first) << out;
    EXPECT_EQ(j.call.inputs[0].name, "model.layers." + std::to_string(from.second) + ".self_attn.q_proj.weight");
    EXPECT_DOUBLE_EQ(*j.call.per_model[0].at("scale"), scale.at(out)) << out;
  }
  EXPECT_EQ(job(p, "model.embed_tokens.weight").call.inputs[0].label, "family/ft1");
  EXPECT_EQ(job(p, "model.norm.weight").call.inputs[0].label, "family/ft2");
  EXPECT_EQ(p.config["num_hidden_layers"], 5);
}

// A base_model not listed among models: is an input of its own, appended last, and the base.
TEST_F(PlanTest, BaseModelIsAnInputAndTheDonor) {
  make_family(2);
  const MergePlan p = plan(R"(merge_method: task_arithmetic
base_model: family/base
models:
  - model: family/ft1
    parameters: {weight: 0.5}
  - model: family/ft2
    parameters: {weight: 0.25}
out_dtype: bfloat16
)");
  const auto& j = job(p, "model.layers.1.mlp.down_proj.weight");
  ASSERT_EQ(j.call.inputs.size(), 3u);
  EXPECT_EQ(j.call.inputs[2].label, "family/base");
  EXPECT_EQ(j.call.base, 2);
  EXPECT_EQ(p.models[p.donor].label, "family/base");
  EXPECT_EQ(j.out.dtype, DType::BF16);
  EXPECT_EQ(p.config["torch_dtype"], "bfloat16");
  EXPECT_DOUBLE_EQ(*j.call.per_model[1].at("weight"), 0.25);
}

TEST_F(PlanTest, RefusesWhatCannotBeMerged) {
  make_family(2);
  EXPECT_NE(plan_error("merge_method: task_arithmetic\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n")
                .find("needs a base_model"),
            std::string::npos);
  const std::string missing = plan_error("merge_method: linear\nmodels:\n  - model: family/none\n    parameters: {weight: 1}\n");
  EXPECT_NE(missing.find("r.yml:3"), std::string::npos) << missing;
  EXPECT_NE(missing.find("'family/none' not found"), std::string::npos) << missing;
  const std::string past = plan_error(
      "merge_method: passthrough\nslices:\n  - sources: [{model: family/ft1, layer_range: [0, 3]}]\n");
  EXPECT_NE(past.find("past its 2 layers"), std::string::npos) << past;
  const std::string unknown = plan_error("merge_method: blend\nmodels:\n  - model: family/ft1\n");
  EXPECT_NE(unknown.find("unknown merge_method 'blend'"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace alloy
