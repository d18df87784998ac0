#include "recipe/recipe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../../tests/test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

constexpr double kEps = 1e-12;

Recipe parse(const std::string& yaml) { return parse_recipe(yaml, "r.yml"); }

std::string parse_error(const std::string& yaml) {
  try {
    parse_recipe(yaml, "r.yml");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error for:\n" << yaml;
  return "";
}

// The message names the file and line ("r.yml:<line>:") and contains every fragment.
void expect_error(const std::string& yaml, int line, std::vector<std::string> fragments) {
  std::string msg = parse_error(yaml);
  std::string where = "r.yml:" + std::to_string(line) + ":";
  EXPECT_EQ(msg.rfind(where, 0), 0u) << "expected prefix '" << where << "' in: " << msg;
  for (const auto& f : fragments)
    EXPECT_NE(msg.find(f), std::string::npos) << "expected '" << f << "' in: " << msg;
}

const ParamValue& param(const ParamMap& m, const std::string& name) {
  auto it = m.find(name);
  if (it == m.end()) throw Error("no parameter " + name);
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// The three example recipes of the spec (§1.8).

const char* kGradientSlerp = R"(slices:
  - sources:
      - model: psmathur/orca_mini_v3_13b
        layer_range: [0, 40]
      - model: garage-bAInd/Platypus2-13B
        layer_range: [0, 40]
merge_method: slerp
base_model: psmathur/orca_mini_v3_13b
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float16
)";

TEST(RecipeParse, GradientSlerpExample) {
  Recipe r = parse(kGradientSlerp);
  EXPECT_EQ(r.file, "r.yml");
  EXPECT_EQ(r.source_text, kGradientSlerp);
  EXPECT_EQ(r.merge_method, "slerp");
  EXPECT_EQ(r.merge_method_loc.line, 7);
  EXPECT_TRUE(r.models.empty());
  ASSERT_EQ(r.slices.size(), 1u);
  const OutputSlice& s = r.slices[0];
  EXPECT_EQ(s.loc.line, 2);
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_EQ(s.sources[0].model.str(), "psmathur/orca_mini_v3_13b");
  EXPECT_EQ(s.sources[1].model.str(), "garage-bAInd/Platypus2-13B");
  EXPECT_EQ(s.sources[1].loc.line, 5);
  EXPECT_EQ(s.sources[1].model.loc.line, 5);
  for (const auto& src : s.sources) {
    EXPECT_EQ(src.layer_start, 0);
    EXPECT_EQ(src.layer_end, 40);
    EXPECT_EQ(src.num_layers(), 40);
    EXPECT_TRUE(src.parameters.empty());
  }
  ASSERT_TRUE(r.base_model);
  EXPECT_EQ(r.base_model->str(), "psmathur/orca_mini_v3_13b");
  EXPECT_EQ(r.dtype, DType::F16);
  EXPECT_FALSE(r.out_dtype);
  EXPECT_EQ(r.parameters_loc.line, 9);

  const ParamValue& t = param(r.parameters, "t");
  ASSERT_EQ(t.kind, ParamValue::Kind::Conditional);
  ASSERT_EQ(t.conditions.size(), 3u);
  EXPECT_EQ(t.conditions[0].filter, "self_attn");
  EXPECT_EQ(t.conditions[0].value.kind, ParamValue::Kind::Gradient);
  EXPECT_EQ(t.conditions[0].value.gradient, (std::vector<double>{0, 0.5, 0.3, 0.7, 1}));
  EXPECT_EQ(t.conditions[1].filter, "mlp");
  EXPECT_EQ(t.conditions[2].filter, std::nullopt);
  EXPECT_EQ(t.conditions[2].value.kind, ParamValue::Kind::Scalar);

  // t is a global parameter: resolved with model = nullptr at the output tensor name.
  auto t_at = [&](const char* name, double pos) {
    return resolve_parameter(r, &r.slices[0], nullptr, "t", name, pos);
  };
  // self_attn, t=0.1: x=0.4 -> 0.6*0 + 0.4*0.5 = 0.2
  EXPECT_NEAR(*t_at("model.layers.4.self_attn.q_proj.weight", 0.1), 0.2, kEps);
  // mlp, t=0.1: x=0.4 -> 0.6*1 + 0.4*0.5 = 0.8
  EXPECT_NEAR(*t_at("model.layers.4.mlp.gate_proj.weight", 0.1), 0.8, kEps);
  // mlp, t=0.9: x=3.6 -> 0.4*0.3 + 0.6*0 = 0.12
  EXPECT_NEAR(*t_at("model.layers.36.mlp.gate_proj.weight", 0.9), 0.12, kEps);
  // anything else: the catch-all 0.5
  EXPECT_NEAR(*t_at("model.layers.4.input_layernorm.weight", 0.1), 0.5, kEps);
  EXPECT_NEAR(*t_at("lm_head.weight", 0.0), 0.5, kEps);

  std::vector<ModelRef> refs = r.referenced_models();
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].str(), "psmathur/orca_mini_v3_13b");
  EXPECT_EQ(refs[1].str(), "garage-bAInd/Platypus2-13B");
}

const char* kTies = R"(models:
  - model: psmathur/orca_mini_v3_13b
    parameters: {density: [1, 0.7, 0.1], weight: 1.0}
  - model: garage-bAInd/Platypus2-13B
    parameters: {density: 0.5, weight: [0, 0.3, 0.7, 1]}
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight: [{filter: mlp, value: 0.5}, {value: 0}]
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters: {normalize: true, int8_mask: true}
dtype: float16
)";

TEST(RecipeParse, TiesExample) {
  Recipe r = parse(kTies);
  EXPECT_EQ(r.merge_method, "ties");
  EXPECT_TRUE(r.slices.empty());
  ASSERT_EQ(r.models.size(), 3u);
  EXPECT_EQ(r.models[2].loc.line, 6);
  EXPECT_EQ(r.models[2].model.str(), "WizardLM/WizardMath-13B-V1.0");
  EXPECT_EQ(param(r.models[0].parameters, "density").gradient, (std::vector<double>{1, 0.7, 0.1}));
  EXPECT_EQ(param(r.models[0].parameters, "weight").scalar, 1.0);
  EXPECT_EQ(param(r.models[2].parameters, "weight").kind, ParamValue::Kind::Conditional);
  EXPECT_EQ(param(r.models[2].parameters, "weight").loc.line, 9);
  EXPECT_EQ(r.dtype, DType::F16);

  auto per_model = [&](int i, const char* name, const char* tensor, double t) {
    return resolve_parameter(r, nullptr, &r.models[i].model, name, tensor, t);
  };
  // density [1, 0.7, 0.1] at t=0.75: x=1.5 -> 0.5*0.7 + 0.5*0.1 = 0.4
  EXPECT_NEAR(*per_model(0, "density", "w", 0.75), 0.4, kEps);
  // weight [0, 0.3, 0.7, 1] at t=0.5: x=1.5 -> 0.5*0.3 + 0.5*0.7 = 0.5
  EXPECT_NEAR(*per_model(1, "weight", "w", 0.5), 0.5, kEps);
  // weight [0, 0.3, 0.7, 1] at t=0.2: x=0.6 -> 0.4*0 + 0.6*0.3 = 0.18
  EXPECT_NEAR(*per_model(1, "weight", "w", 0.2), 0.18, kEps);
  EXPECT_NEAR(*per_model(2, "weight", "model.layers.0.mlp.up_proj.weight", 0.3), 0.5, kEps);
  EXPECT_NEAR(*per_model(2, "weight", "model.layers.0.self_attn.k_proj.weight", 0.3), 0.0, kEps);
  EXPECT_NEAR(*per_model(2, "density", "w", 0.3), 0.33, kEps);

  // Booleans are numbers; global parameters are resolved without a model.
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "normalize", "w", 0), 1.0);
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "int8_mask", "w", 0), 1.0);
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "lambda", "w", 0), std::nullopt);

  std::vector<ModelRef> refs = r.referenced_models();
  ASSERT_EQ(refs.size(), 4u);
  EXPECT_EQ(refs[0].str(), "psmathur/orca_mini_v3_13b");
  EXPECT_EQ(refs[1].str(), "garage-bAInd/Platypus2-13B");
  EXPECT_EQ(refs[2].str(), "WizardLM/WizardMath-13B-V1.0");
  EXPECT_EQ(refs[3].str(), "TheBloke/Llama-2-13B-fp16");
}

TEST(RecipeParse, FrankenmergeExample) {
  Recipe r = parse(R"(slices:
  - sources: [{model: psmathur/orca_mini_v3_13b, layer_range: [0, 24]}]
  - sources: [{model: garage-bAInd/Platypus2-13B, layer_range: [20, 40]}]
merge_method: passthrough
dtype: float16
)");
  EXPECT_EQ(r.merge_method, "passthrough");
  ASSERT_EQ(r.slices.size(), 2u);
  ASSERT_EQ(r.slices[0].sources.size(), 1u);
  ASSERT_EQ(r.slices[1].sources.size(), 1u);
  EXPECT_EQ(r.slices[0].sources[0].layer_start, 0);
  EXPECT_EQ(r.slices[0].sources[0].layer_end, 24);
  EXPECT_EQ(r.slices[1].sources[0].layer_start, 20);
  EXPECT_EQ(r.slices[1].sources[0].layer_end, 40);
  EXPECT_EQ(r.slices[1].loc.line, 3);
  EXPECT_EQ(r.slices[0].sources[0].num_layers() + r.slices[1].sources[0].num_layers(), 44);
  EXPECT_FALSE(r.base_model);
  EXPECT_TRUE(r.parameters.empty());
  EXPECT_EQ(r.dtype, DType::F16);
  EXPECT_EQ(r.referenced_models().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Parameter values as written in YAML.

TEST(RecipeParse, BooleansAndNumericStrings) {
  Recipe r = parse(R"(models:
  - model: a
merge_method: ties
parameters:
  normalize: true
  int8_mask: false
  rescale: yes
  lambda: "0.25"
  epsilon: ' 1e-2 '
  density: 5e-1
  weight: ["0", 1, "1.0e0", false]
  t: ~
)");
  EXPECT_EQ(param(r.parameters, "normalize").scalar, 1.0);
  EXPECT_EQ(param(r.parameters, "int8_mask").scalar, 0.0);
  EXPECT_EQ(param(r.parameters, "rescale").scalar, 1.0);
  EXPECT_EQ(param(r.parameters, "lambda").scalar, 0.25);
  EXPECT_EQ(param(r.parameters, "epsilon").scalar, 0.01);
  EXPECT_EQ(param(r.parameters, "density").scalar, 0.5);
  EXPECT_EQ(param(r.parameters, "weight").gradient, (std::vector<double>{0, 1, 1, 0}));
  // A null value is "not set at this level".
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "t", "w", 0.5), std::nullopt);
}

TEST(RecipeParse, BareConditionalMapIsAOneEntryList) {
  // mergekit fails on this at evaluation time; alloy reads it as [{filter: mlp, value: 0.5}].
  Recipe r = parse("models: [{model: a}]\nmerge_method: linear\nparameters:\n  weight: {filter: mlp, value: 0.5}\n");
  const ParamValue& w = param(r.parameters, "weight");
  ASSERT_EQ(w.kind, ParamValue::Kind::Conditional);
  ASSERT_EQ(w.conditions.size(), 1u);
  EXPECT_EQ(evaluate(w, "layers.0.mlp.up_proj.weight", 0), 0.5);
  EXPECT_EQ(evaluate(w, "layers.0.self_attn.q_proj.weight", 0), std::nullopt);
}

TEST(RecipeParse, NestedGradientInConditionalAndStarFilter) {
  Recipe r = parse(R"(models: [{model: a}]
merge_method: linear
parameters:
  weight:
    - filter: "*"
      value: [1, 0.5, 0]
    - filter: mlp
      value: 9
)");
  const ParamValue& w = param(r.parameters, "weight");
  ASSERT_EQ(w.conditions.size(), 2u);
  EXPECT_EQ(w.conditions[0].filter, "*");
  // "*" comes first and matches mlp too; t=0.75: x=1.5 -> 0.5*0.5 + 0.5*0 = 0.25
  EXPECT_NEAR(*evaluate(w, "layers.2.mlp.up_proj.weight", 0.75), 0.25, kEps);
}

TEST(RecipeParse, OptionalTopLevelKeys) {
  Recipe r = parse(R"(merge_method: linear
models:
  - model: a
base_model: a
out_dtype: torch.bfloat16
dtype: float32
tokenizer_source: base
)");
  EXPECT_EQ(r.dtype, DType::F32);
  EXPECT_EQ(r.out_dtype, DType::BF16);
  ASSERT_TRUE(r.tokenizer);
  EXPECT_EQ(r.tokenizer->source, TokenizerSettings::Source::Base);

  Recipe u = parse("merge_method: linear\nmodels: [{model: a}]\ndtype: float64\n");
  EXPECT_FALSE(u.tokenizer);
  EXPECT_EQ(u.dtype, DType::F64);
}

TEST(RecipeParse, DictFormModelReferences) {
  Recipe r = parse(R"(merge_method: task_arithmetic
models:
  - model:
      model: {path: org/m, revision: v2}
      lora: {path: org/adapter}
      override_architecture: MistralForCausalLM
  - model: {model: "org/n@main"}
base_model: {model: {path: org/base}}
)");
  const ModelRef& m = r.models[0].model;
  EXPECT_EQ(m.path, "org/m");
  EXPECT_EQ(m.revision, "v2");
  EXPECT_EQ(m.lora_path, "org/adapter");
  EXPECT_EQ(m.override_architecture, "MistralForCausalLM");
  EXPECT_EQ(m.str(), "org/m@v2+org/adapter");
  EXPECT_EQ(r.models[1].model, ModelRef::parse("org/n@main"));
  EXPECT_EQ(r.base_model->str(), "org/base");
}

TEST(RecipeParse, ReferencedModelsOrder) {
  Recipe r = parse(R"(merge_method: slerp
base_model: g
slices:
  - sources:
      - {model: b, layer_range: [0, 2]}
      - {model: a, layer_range: [0, 2]}
    base_model: s
  - sources:
      - {model: a, layer_range: [2, 4]}
      - {model: c+l, layer_range: [2, 4]}
      - {model: a@r, layer_range: [2, 4]}
    base_model: b
)");
  std::vector<std::string> got;
  for (const auto& m : r.referenced_models()) got.push_back(m.str());
  EXPECT_EQ(got, (std::vector<std::string>{"b", "a", "c+l", "a@r", "s", "g"}));
  ASSERT_TRUE(r.slices[0].base_model);
  EXPECT_EQ(r.slices[0].base_model->str(), "s");
}

// Keys mergekit accepts and acts on nowhere are refused, not dropped.
TEST(RecipeParse, KeysWithNoEffectAreRefused) {
  expect_error("merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n    residual_weight: 0.3\n",
               4, {"residual_weight", "has no effect"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nembed_slerp: true\n", 3, {"embed_slerp", "has no effect"});
}

TEST(RecipeParse, WhereFormatsFileAndLine) {
  Recipe r = parse(kTies);
  EXPECT_EQ(r.where({12, 1}), "r.yml:12");
  EXPECT_EQ(r.where(r.models[1].loc), "r.yml:4");
  EXPECT_EQ(r.where({}), "r.yml");
}

TEST(RecipeParse, LoadRecipeFromFile) {
  testing::TempDir tmp;
  const auto path = tmp / "recipe.yml";
  testing::write_file(path, kTies);
  Recipe r = load_recipe(path);
  EXPECT_EQ(r.file, path.string());
  EXPECT_EQ(r.models.size(), 3u);
  std::filesystem::remove(path);
  try {
    load_recipe(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Precedence (§1.5).

const char* kSliceLevels = R"(merge_method: ties
slices:
  - sources:
      - model: A
        layer_range: [0, 4]
        parameters: {weight: 0.1, t: 0.99}
      - model: B
        layer_range: [0, 4]
        parameters:
          weight: [{filter: mlp, value: 0.2}]
      - model: A
        layer_range: [4, 8]
        parameters: {weight: 0.9, density: 0.3}
    parameters: {weight: 0.5, density: 0.6, t: 0.25}
  - sources:
      - model: A
        layer_range: [8, 12]
parameters: {weight: 0.7, density: 0.8, t: 0.75, lambda: 2}
)";

TEST(RecipePrecedence, SourceThenSliceThenGlobal) {
  Recipe r = parse(kSliceLevels);
  const OutputSlice* s0 = &r.slices[0];
  const OutputSlice* s1 = &r.slices[1];
  ModelRef a = ModelRef::parse("A"), b = ModelRef::parse("B"), c = ModelRef::parse("C");
  const char* attn = "model.layers.1.self_attn.q_proj.weight";
  const char* mlp = "model.layers.1.mlp.up_proj.weight";

  EXPECT_EQ(resolve_parameter(r, s0, &a, "weight", attn, 0), 0.1);  // first source A wins
  EXPECT_EQ(resolve_parameter(r, s0, &a, "density", attn, 0), 0.3);  // second source A defines it
  EXPECT_EQ(resolve_parameter(r, s0, &b, "weight", mlp, 0), 0.2);   // source filter matches
  EXPECT_EQ(resolve_parameter(r, s0, &b, "weight", attn, 0), 0.5);  // falls through to the slice
  EXPECT_EQ(resolve_parameter(r, s0, &b, "density", attn, 0), 0.6);
  EXPECT_EQ(resolve_parameter(r, s0, &c, "weight", attn, 0), 0.5);  // not a source: slice level
  EXPECT_EQ(resolve_parameter(r, s1, &a, "weight", attn, 0), 0.7);  // other slice: global
  EXPECT_EQ(resolve_parameter(r, s1, &a, "lambda", attn, 0), 2.0);
  EXPECT_EQ(resolve_parameter(r, s0, &a, "missing", attn, 0), std::nullopt);

  // Global parameters skip the source level: source A's t = 0.99 is never seen.
  EXPECT_EQ(resolve_parameter(r, s0, nullptr, "t", attn, 0), 0.25);
  EXPECT_EQ(resolve_parameter(r, s1, nullptr, "t", attn, 0), 0.75);
  EXPECT_EQ(resolve_parameter(r, s0, nullptr, "weight", attn, 0), 0.5);
}

TEST(RecipePrecedence, ModelsThenGlobal) {
  Recipe r = parse(R"(merge_method: slerp
base_model: A
models:
  - model: A
    parameters: {weight: [{filter: mlp, value: 0.3}], t: 0.9}
  - model: B
  - model: A@rev
    parameters: {weight: 0.4}
  - model: A
    parameters: {weight: 0.6}
parameters: {t: 0.5, weight: 1}
)");
  ModelRef a = ModelRef::parse("A"), b = ModelRef::parse("B"), ar = ModelRef::parse("A@rev");
  EXPECT_EQ(resolve_parameter(r, nullptr, &a, "weight", "layers.0.mlp.w", 0), 0.3);
  // The first A entry does not match this tensor; the next A entry does.
  EXPECT_EQ(resolve_parameter(r, nullptr, &a, "weight", "layers.0.attn.w", 0), 0.6);
  EXPECT_EQ(resolve_parameter(r, nullptr, &b, "weight", "w", 0), 1.0);
  EXPECT_EQ(resolve_parameter(r, nullptr, &ar, "weight", "w", 0), 0.4);
  // `t` inside models[*].parameters has no effect on the global lookup (mergekit behaviour).
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "t", "w", 0), 0.5);
  // Dedup: A appears twice and is also the base model.
  EXPECT_EQ(r.referenced_models().size(), 3u);
}

TEST(RecipePrecedence, GradientsEvaluatedAtEachLevelWithSameT) {
  Recipe r = parse(R"(merge_method: linear
slices:
  - sources:
      - model: A
        layer_range: [0, 8]
        parameters: {weight: [0, 1]}
      - model: B
        layer_range: [0, 8]
    parameters: {weight: [1, 0.5, 0]}
)");
  ModelRef a = ModelRef::parse("A"), b = ModelRef::parse("B");
  // A: [0, 1] at t=0.3 -> 0.3.   B: [1, 0.5, 0] at t=0.3: x=0.6 -> 0.4*1 + 0.6*0.5 = 0.7
  EXPECT_NEAR(*resolve_parameter(r, &r.slices[0], &a, "weight", "w", 0.3), 0.3, kEps);
  EXPECT_NEAR(*resolve_parameter(r, &r.slices[0], &b, "weight", "w", 0.3), 0.7, kEps);
}

// ---------------------------------------------------------------------------------------------
// Validation errors: each names the file, the line and the key.

TEST(RecipeValidation, UnknownTopLevelKey) {
  expect_error("models: [{model: a}]\nmerge_methd: linear\n", 2,
               {"unknown key 'merge_methd'", "did you mean 'merge_method'?"});
  expect_error("merge_method: linear\nmodel:\n  - model: a\n", 2,
               {"unknown key 'model'", "did you mean 'models'?"});
  std::string msg = parse_error("merge_method: linear\nmodels: [{model: a}]\nfrobnicate: 1\n");
  EXPECT_EQ(msg, "r.yml:3: unknown key 'frobnicate'");
}

TEST(RecipeValidation, UnknownNestedKeys) {
  expect_error("merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_rnage: [0, 1]\n",
               5, {"slices[0].sources[0]", "unknown key 'layer_rnage'", "did you mean 'layer_range'?"});
  expect_error("merge_method: linear\nmodels:\n  - model: a\n    parameter: {weight: 1}\n", 4,
               {"models[0]", "unknown key 'parameter'", "did you mean 'parameters'?"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: [{filter: mlp, valeu: 1}]\n",
               4, {"parameters.weight[0]", "unknown key 'valeu'", "did you mean 'value'?"});
}

TEST(RecipeValidation, DuplicateKey) {
  expect_error("merge_method: linear\nmodels: [{model: a}]\nmerge_method: ties\n", 3,
               {"duplicate key 'merge_method'", "line 1"});
}

TEST(RecipeValidation, ModelsAndSlicesBothOrNeither) {
  expect_error("merge_method: linear\nmodels: [{model: a}]\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n",
               3, {"slices", "models", "both"});
  expect_error("merge_method: linear\nbase_model: a\n", 1, {"models:", "slices:"});
  expect_error("merge_method: linear\nmodels:\n", 1, {"models:", "slices:"});
}

TEST(RecipeValidation, EmptyLists) {
  expect_error("merge_method: linear\nmodels: []\n", 2, {"models", "must not be empty"});
  expect_error("merge_method: linear\nslices: []\n", 2, {"slices", "must not be empty"});
  expect_error("merge_method: linear\nslices:\n  - sources: []\n", 3,
               {"slices[0].sources", "must not be empty"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters: {weight: []}\n", 3,
               {"parameters.weight", "must not be empty"});
}

TEST(RecipeValidation, MissingMergeMethod) {
  expect_error("models: [{model: a}]\n", 1, {"merge_method"});
  expect_error("models: [{model: a}]\nmerge_method:\n", 1, {"merge_method"});
  expect_error("models: [{model: a}]\nmerge_method: [linear]\n", 2,
               {"merge_method", "expected a string"});
}

TEST(RecipeValidation, LayerRange) {
  auto recipe = [](const std::string& range) {
    return "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: " +
           range + "\n";
  };
  expect_error(recipe("[0]"), 5, {"slices[0].sources[0].layer_range", "two integers"});
  expect_error(recipe("[0, 1, 2]"), 5, {"layer_range", "two integers"});
  expect_error(recipe("5"), 5, {"layer_range", "two integers"});
  expect_error(recipe("{start: 0, end: 4}"), 5, {"layer_range", "two integers"});
  expect_error(recipe("[a, 3]"), 5, {"layer_range[0]", "expected an integer", "\"a\""});
  expect_error(recipe("[0, 2.5]"), 5, {"layer_range[1]", "expected an integer"});
  expect_error(recipe("[-1, 3]"), 5, {"layer_range", "must not be negative"});
  expect_error(recipe("[5, 5]"), 5, {"layer_range", "end must be greater than start"});
  expect_error(recipe("[6, 2]"), 5, {"layer_range", "end must be greater than start"});
  expect_error("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n", 4,
               {"slices[0].sources[0]", "missing required key 'layer_range'"});
}

TEST(RecipeValidation, SourceWithoutModel) {
  expect_error("merge_method: passthrough\nslices:\n  - sources:\n      - layer_range: [0, 2]\n", 4,
               {"slices[0].sources[0]", "missing required key 'model'"});
  expect_error("merge_method: linear\nmodels:\n  - parameters: {weight: 1}\n", 3,
               {"models[0]", "missing required key 'model'"});
  expect_error("merge_method: linear\nmodels:\n  - model:\n", 3,
               {"models[0]", "missing required key 'model'"});
  expect_error("merge_method: passthrough\nslices:\n  - base_model: a\n", 3,
               {"slices[0]", "missing required key 'sources'"});
}

TEST(RecipeValidation, WrongValueTypes) {
  expect_error("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: \"abc\"\n", 5,
               {"models[0].parameters.weight", "expected a number", "abc"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters: {weight: abc}\n", 3,
               {"parameters.weight", "expected a number", "abc"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters: {normalize: \"true\"}\n", 3,
               {"parameters.normalize", "expected a number"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: [0.1, x]\n", 4,
               {"parameters.weight[1]", "expected a number"});
  // A map where a list is expected.
  expect_error("merge_method: passthrough\nslices:\n  - sources: {model: a, layer_range: [0, 1]}\n", 3,
               {"slices[0].sources", "expected a list, got a map"});
  expect_error("merge_method: linear\nmodels: {model: a}\n", 2, {"models", "expected a list, got a map"});
  // A list where a map is expected.
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters: [1, 2]\n", 3,
               {"parameters", "expected a map, got a list"});
  expect_error("merge_method: linear\nmodels:\n  - a\n", 3, {"models[0]", "expected a map"});
  // Nested and mixed lists.
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: [[0, 1]]\n", 4,
               {"parameters.weight[0]", "lists do not nest"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: [0.5, {filter: mlp, value: 1}]\n",
               4, {"parameters.weight", "not both"});
  // Condition entries.
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight:\n    - filter: mlp\n", 5,
               {"parameters.weight[0]", "'value'"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: [{filter: [mlp], value: 1}]\n",
               4, {"parameters.weight[0].filter", "expected a string"});
  // Model references.
  expect_error("merge_method: linear\nmodels:\n  - model: [a]\n", 3,
               {"models[0].model", "expected a model reference"});
  expect_error("merge_method: linear\nmodels:\n  - model: {model: {revision: r}}\n", 3,
               {"models[0].model.model", "missing required key 'path'"});
}

TEST(RecipeValidation, MalformedModelReferences) {
  expect_error("merge_method: linear\nmodels:\n  - model: a\n  - model: a+b+c\n", 4,
               {"models[1].model", "Can't parse model reference 'a+b+c'"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nbase_model: \"@@@@@\"\n", 3,
               {"base_model", "multiple @"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nbase_model: a+b+c@d+e@f@g\n", 3,
               {"base_model", "Can't parse"});
}

TEST(RecipeValidation, Dtypes) {
  expect_error("merge_method: linear\nmodels: [{model: a}]\ndtype: float12\n", 3,
               {"dtype", "unknown dtype 'float12'"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nout_dtype: int64\n", 3,
               {"out_dtype", "int64", "floating-point"});
  expect_error("merge_method: linear\nmodels: [{model: a}]\nout_dtype: {x: 1}\n", 3,
               {"out_dtype", "expected a string"});
}

// Keys alloy parses but does not act on are refused at their line, never accepted and dropped.
TEST(RecipeValidation, KeysNotActedOnAreRefused) {
  const std::string head = "merge_method: linear\nmodels: [{model: a}]\nbase_model: a\n";
  expect_error(head + "chat_template: chatlm\n", 4,
               {"chat_template", "'chatlm' is neither auto, a built-in template (alpaca, chatml, llama3, mistral)"});
  expect_error(head + "chat_template: '{{ messages }}'\n", 4, {"chat_template", "at least 20 characters"});
  EXPECT_EQ(parse(head + "chat_template: chatml\n").chat_template, "chatml");
}

TEST(RecipeParse, TokenizerSettings) {
  const std::string head = "merge_method: linear\nmodels: [{model: a}, {model: b}]\nbase_model: a\n";
  Recipe legacy = parse(head + "tokenizer_source: model:b\n");
  ASSERT_TRUE(legacy.tokenizer);
  EXPECT_EQ(legacy.tokenizer->source, TokenizerSettings::Source::Model);
  EXPECT_EQ(legacy.tokenizer->model.path, "b");
  EXPECT_EQ(parse(head + "tokenizer_source: union\n").tokenizer->source, TokenizerSettings::Source::Union);
  EXPECT_EQ(parse(head + "tokenizer: {}\n").tokenizer->source, TokenizerSettings::Source::Union);

  Recipe r = parse(head + R"(tokenizer:
  source: b
  pad_to_multiple_of: 16
  tokens:
    "<|im_start|>":
      source: b
    _tok_10:
      source: a
      force: true
    _tok_20:
      source: {kind: model_token, model: b, token_id: 64}
    _tok_21:
      source: {kind: model_token, model: a, token: "<s>"}
    "<|y|>":
      source: {kind: zero}
)");
  const TokenizerSettings& t = *r.tokenizer;
  EXPECT_EQ(t.source, TokenizerSettings::Source::Model);
  EXPECT_EQ(t.model.path, "b");
  EXPECT_EQ(t.pad_to_multiple_of, 16);
  ASSERT_EQ(t.tokens.size(), 5u);
  EXPECT_EQ(t.tokens[0].token, "<|im_start|>");
  EXPECT_EQ(t.tokens[0].source.kind, TokenSource::Kind::Model);
  EXPECT_FALSE(t.tokens[0].force);
  EXPECT_EQ(t.tokens[1].token, "_tok_10");
  EXPECT_TRUE(t.tokens[1].force);
  EXPECT_EQ(t.tokens[2].source.kind, TokenSource::Kind::ModelToken);
  EXPECT_EQ(t.tokens[2].source.token_id, 64);
  EXPECT_EQ(t.tokens[2].source.model.path, "b");
  EXPECT_EQ(t.tokens[3].source.token, "<s>");
  EXPECT_EQ(t.tokens[4].source.kind, TokenSource::Kind::Zero);
  EXPECT_EQ(t.tokens[4].loc.line, 17);
}

TEST(RecipeValidation, TokenizerSettingsErrorsNameTheLine) {
  const std::string head = "merge_method: linear\nmodels: [{model: a}, {model: b}]\nbase_model: a\n";
  expect_error(head + "tokenizer_source: c\n", 4, {"tokenizer_source", "model 'c' is not among the recipe's models (a, b)"});
  expect_error(head + "tokenizer:\n  source: union\n  tokens:\n    x:\n      source: c\n", 8,
               {"'c' is not among the recipe's models"});
  expect_error(head + "tokenizer:\n  tokens:\n    x:\n      source: {kind: model_token, model: a}\n", 7,
               {"exactly one of token_id"});
  expect_error(head + "tokenizer:\n  tokens:\n    x:\n      source: {kind: mean}\n", 7, {"unknown kind 'mean'"});
  expect_error(head + "tokenizer:\n  tokens:\n    x:\n      force: true\n", 6, {"missing required key 'source'"});
  expect_error(head + "tokenizer:\n  pad_to_multiple_of: 0\n", 5, {"pad_to_multiple_of", "at least 1"});
  expect_error(head + "tokenizer:\n  sorce: union\n", 5, {"sorce"});
  expect_error(head + "tokenizer_source: base\ntokenizer: {source: union}\n", 5, {"both given"});
}

TEST(RecipeValidation, SeveralDocumentsAreStagesOfAMultiStageRecipe) {
  // parse_recipe reads one recipe; alloy merge reads the documents of a multi-stage one.
  expect_error("merge_method: linear\nmodels: [{model: a}]\n---\nmerge_method: linear\nmodels: [{model: b}]\n", 4,
               {"second YAML document", "a multi-stage recipe (mergekit-multi), which alloy merge runs"});
  // Document markers around a single recipe are fine.
  Recipe r = parse("---\nmerge_method: linear\nmodels: [{model: a}]\n---\n");
  EXPECT_EQ(r.models.size(), 1u);

  const auto docs = parse_recipe_documents(
      "name: first\nmerge_method: linear\nmodels: [{model: x}, {model: y}]\n---\n"
      "merge_method: slerp\nbase_model: first\nmodels: [{model: first}, {model: z}]\nparameters: {t: 0.5}\n",
      "m.yml");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].name, "first");
  EXPECT_EQ(docs[0].name_loc.line, 1);
  EXPECT_EQ(docs[1].name, "");
  EXPECT_EQ(docs[1].merge_method_loc.line, 5);
  // Each document's own text (written into its output) is that document alone.
  const Recipe again = parse(docs[1].source_text);
  EXPECT_EQ(again.merge_method, "slerp");
  EXPECT_EQ(again.models[1].model.path, "z");
  expect_error("name: ''\nmerge_method: linear\nmodels: [{model: a}]\n", 1, {"name", "must not be empty"});
}

TEST(RecipeValidation, MoeConfigIsNamed) {
  expect_error("base_model: a\ngate_mode: hidden\nexperts:\n  - source_model: b\n    positive_prompts: [hi]\n", 2,
               {"mergekit-moe config", "'gate_mode'", "not a merge recipe: run alloy moe"});
  expect_error("base_model: a\nexperts:\n  - source_model: b\n", 2, {"run alloy moe"});
}

TEST(RecipeModules, ParsedInOrderWithTheirModels) {
  const Recipe r = parse(R"(merge_method: linear
modules:
  text_decoder:
    slices:
      - sources: [{model: a, layer_range: [0, 2]}]
      - sources: [{model: b, layer_range: [1, 3]}]
    parameters: {weight: 0.5}
  vision_tower:
    models: [{model: c}, {model: a}]
)");
  EXPECT_TRUE(r.models.empty());
  EXPECT_TRUE(r.slices.empty());
  ASSERT_EQ(r.modules.size(), 2u);
  EXPECT_EQ(r.modules[0].name, "text_decoder");
  EXPECT_EQ(r.modules[0].loc.line, 3);
  EXPECT_EQ(r.modules[0].slices.size(), 2u);
  EXPECT_EQ(r.modules[1].name, "vision_tower");
  ASSERT_EQ(r.modules[1].models.size(), 2u);
  EXPECT_EQ(r.modules_loc.line, 2);
  std::vector<std::string> refs;
  for (const auto& m : r.referenced_models()) refs.push_back(m.path);
  EXPECT_EQ(refs, (std::vector<std::string>{"a", "b", "c"}));
}

// Hand-worked precedence (spec 1.5): source > slice > module > top level; a module's models:
// entries > module > top level; another module's parameters never apply.
TEST(RecipeModules, ModuleParametersRankBetweenSlicesAndTopLevel) {
  const Recipe r = parse(R"(merge_method: linear
parameters: {weight: 0.1, density: 0.9}
modules:
  text_decoder:
    slices:
      - sources:
          - {model: a, layer_range: [0, 2], parameters: {weight: 0.7}}
          - {model: b, layer_range: [0, 2]}
        parameters: {density: [0.2, 0.4]}
    parameters: {weight: 0.3, density: 0.6}
  vision_tower:
    models:
      - {model: a, parameters: {weight: {filter: fc1, value: 0.8}}}
      - {model: b}
    parameters: {weight: 0.4}
)");
  const OutputModule& text = r.modules[0];
  const OutputModule& vision = r.modules[1];
  const OutputSlice* slice = &text.slices[0];
  const ModelRef& a = text.slices[0].sources[0].model;
  const ModelRef& b = text.slices[0].sources[1].model;
  EXPECT_EQ(resolve_parameter(r, slice, &a, "weight", "x", 0, &text), 0.7);  // source
  EXPECT_EQ(resolve_parameter(r, slice, &b, "weight", "x", 0, &text), 0.3);  // module
  EXPECT_NEAR(*resolve_parameter(r, slice, &b, "density", "x", 0.5, &text), 0.3, kEps);  // slice gradient at t=.5
  EXPECT_EQ(resolve_parameter(r, nullptr, &a, "weight", "mlp.fc1.weight", 0, &vision), 0.8);  // models entry
  EXPECT_EQ(resolve_parameter(r, nullptr, &a, "weight", "mlp.fc2.weight", 0, &vision), 0.4);  // filter misses: module
  EXPECT_EQ(resolve_parameter(r, nullptr, &b, "weight", "x", 0, &vision), 0.4);
  EXPECT_EQ(resolve_parameter(r, nullptr, &b, "density", "x", 0, &vision), 0.9);  // top level
  EXPECT_EQ(resolve_parameter(r, nullptr, nullptr, "density", "x", 0, &text), 0.6);  // global lookup: module
}

TEST(RecipeModules, BadModulesAreRefusedWithTheirLine) {
  expect_error("merge_method: linear\nmodels: [{model: a}]\nmodules:\n  text_decoder: {models: [{model: a}]}\n", 3,
               {"modules: and models: are both given", "exactly one of models:, slices: and modules:"});
  expect_error("merge_method: linear\nmodules:\n  text_decoder:\n    models: [{model: a}]\n"
               "    slices: [{sources: [{model: a, layer_range: [0, 1]}]}]\n", 5,
               {"models: and slices: are both given; module 'text_decoder' uses exactly one of them"});
  expect_error("merge_method: linear\nmodules:\n  text_decoder:\n    parameters: {weight: 1}\n", 3,
               {"text_decoder", "needs models: (whole-module merge) or slices: (layer-wise)"});
  expect_error("merge_method: linear\nmodules:\n  text_decoder:\n    slice: []\n", 4, {"unknown key 'slice'", "slices"});
  expect_error("merge_method: linear\nmodules: {}\n", 2, {"modules: is empty"});
  expect_error("merge_method: linear\n", 1, {"models:", "slices:", "modules:"});
}

TEST(RecipeValidation, YamlSyntaxAndShape) {
  expect_error("merge_method: linear\nmodels: [{model: a}\n", 3, {"YAML syntax error"});
  EXPECT_EQ(parse_error(""), "r.yml: recipe is empty");
  expect_error("- merge_method\n", 1, {"expected a map"});
}

}  // namespace
}  // namespace alloy
