// Models of several modules (text decoder, vision tower, projector): tools/fixtures/architectures/
// modular/*.json hold tiny Gemma 3 and Mistral 3 vision-language models with their real tensor
// names. A modules: recipe merges each module by its own models: or slices: and parameters; every
// output tensor is checked against the float64 sum of the inputs the recipe names for it, with the
// weights worked out here from the precedence rules (spec 1.5). models: recipes merge every module,
// slices: on such a model is refused, and the config's per-module layer counts follow the slices.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "arch/architecture.h"
#include "exec/run_merge.h"
#include "fixtures/arch_fixture.h"
#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "cli/inspect.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kModularDir = fs::path(ALLOY_SOURCE_DIR) / "tools" / "fixtures" / "architectures" / "modular";

// base, ft1, ft2 of the modular fixture `name` under `dir`.
void write_family(const std::string& name, const fs::path& dir) {
  FixtureSpec spec;
  spec.arch = std::make_shared<ArchFixture>(load_arch_fixture(kModularDir / (name + ".json")));
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  spec.task.delta_std = 0.01f;
  spec.seed = 5;
  spec.threads = 1;
  write_fixture_family(spec, dir);
}

MergeOptions merge_options(const fs::path& dir, const std::string& recipe) {
  testing::write_file(dir / "recipe.yml", recipe);
  MergeOptions o;
  o.recipe = dir / "recipe.yml";
  o.out = dir / "out";
  o.threads = 1;
  o.fsync = false;
  o.write_model_card = false;
  return o;
}

void merge(const fs::path& dir, const std::string& recipe) { run_merge(merge_options(dir, recipe)); }

std::string merge_error(const fs::path& dir, const std::string& recipe) {
  return testing::error_message([&] { merge(dir, recipe); }, "the merge");
}

// One input of an expected output tensor: model directory name, its tensor, its weight.
struct Term {
  std::string model;
  std::string tensor;
  double weight;
};

// Every output tensor equals the float64 sum its terms give, and no other tensor is written.
void expect_output(const fs::path& dir, const std::map<std::string, std::vector<Term>>& expected) {
  auto out = Checkpoint::open(dir / "out");
  std::set<std::string> names(out->tensor_names().begin(), out->tensor_names().end());
  std::set<std::string> want;
  for (const auto& [name, terms] : expected) want.insert(name);
  ASSERT_EQ(names, want);
  std::map<std::string, std::shared_ptr<const Checkpoint>> inputs;
  for (const auto& [name, terms] : expected) {
    std::vector<std::vector<double>> values;
    std::vector<double> weights;
    for (const Term& t : terms) {
      if (!inputs.count(t.model)) inputs[t.model] = Checkpoint::open(dir / t.model);
      values.push_back(testing::tensor_values(*inputs[t.model], t.tensor));
      weights.push_back(t.weight);
    }
    testing::expect_close(testing::tensor_values(*out, name), testing::weighted_sum(values, weights), DType::F32, name);
  }
}

// "language_model.model.layers.3.mlp.up_proj.weight" with prefix "language_model.model.layers." ->
// (3, ".mlp.up_proj.weight"); nullopt when the name is not in those layers.
std::optional<std::pair<int, std::string>> split(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  return std::pair{std::stoi(name.substr(prefix.size(), dot - prefix.size())), name.substr(dot)};
}

class ModulesTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
};

// Gemma 3: the text decoder is a frankenmerge of ft1's layers [0, 2) and ft2's [1, 3) under the
// top-level weight 0.5 (normalize off); the vision tower is 0.25·ft1 (its own weight) + 0.75·ft2
// (the module's weight beats the top-level one); the projector is 2·base (module weight).
TEST_F(ModulesTest, Gemma3ModulesMergeEachModuleByItsOwnRecipe) {
  write_family("gemma3-vl", tmp_.path());
  testing::write_file(tmp_ / "ft1" / "preprocessor_config.json", "{\"image_seq_length\": 4}\n");
  merge(tmp_.path(), R"(merge_method: linear
dtype: float32
parameters: {weight: 0.5, normalize: false}
modules:
  text_decoder:
    slices:
      - sources: [{model: ft1, layer_range: [0, 2]}]
      - sources: [{model: ft2, layer_range: [1, 3]}]
  vision_tower:
    models:
      - model: ft1
        parameters: {weight: 0.25}
      - model: ft2
    parameters: {weight: 0.75}
  multi_modal_projector:
    models: [{model: base}]
    parameters: {weight: 2.0}
)");
  auto ft1 = Checkpoint::open(tmp_ / "ft1");
  const std::string text = "language_model.model.layers.";
  std::map<std::string, std::vector<Term>> expected;
  for (const std::string& name : ft1->tensor_names()) {
    if (auto layer = split(name, text)) {
      // Output layers 0, 1 are ft1's 0, 1; output layers 2, 3 are ft2's 1, 2.
      if (layer->first < 2) expected[name].push_back({"ft1", name, 0.5});
      if (layer->first >= 1) expected[text + std::to_string(layer->first + 1) + layer->second] = {{"ft2", name, 0.5}};
    } else if (name == "language_model.model.embed_tokens.weight") {
      expected[name] = {{"ft1", name, 0.5}};  // pre-weights: the first slice's model
    } else if (name == "language_model.model.norm.weight") {
      expected[name] = {{"ft2", name, 0.5}};  // post-weights: the last slice's model
    } else if (name.rfind("vision_tower.", 0) == 0) {
      expected[name] = {{"ft1", name, 0.25}, {"ft2", name, 0.75}};
    } else {
      ASSERT_EQ(name.rfind("multi_modal_projector.", 0), 0u) << name;
      expected[name] = {{"base", name, 2.0}};
    }
  }
  expect_output(tmp_.path(), expected);

  const json config = json::parse(testing::read_file(tmp_ / "out" / "config.json"));
  EXPECT_EQ(config["text_config"]["num_hidden_layers"], 4);
  EXPECT_EQ(config["vision_config"]["num_hidden_layers"], 2);  // merged whole
  EXPECT_EQ(testing::read_file(tmp_ / "out" / "preprocessor_config.json"), "{\"image_seq_length\": 4}\n");
  EXPECT_FALSE(fs::exists(tmp_ / "out" / "processor_config.json"));  // the donor has none
}

// A models: recipe on a modular model merges every module (Mistral 3 has an untied LM head); the
// layer counts stay. A modules: recipe can frankenmerge the vision tower instead.
TEST_F(ModulesTest, Mistral3ModelsMergeEveryModuleAndVisionLayersCanBeSliced) {
  write_family("mistral3", tmp_.path());
  testing::write_file(tmp_ / "base" / "processor_config.json", "{\"patch_size\": 4}\n");
  merge(tmp_.path(), "merge_method: linear\ndtype: float32\nbase_model: base\nmodels:\n"
                     "  - model: base\n    parameters: {weight: 0.25}\n"
                     "  - model: ft1\n    parameters: {weight: 0.75}\n");
  auto base = Checkpoint::open(tmp_ / "base");
  std::map<std::string, std::vector<Term>> expected;
  for (const std::string& name : base->tensor_names()) expected[name] = {{"base", name, 0.25}, {"ft1", name, 0.75}};
  ASSERT_TRUE(expected.count("language_model.lm_head.weight"));
  expect_output(tmp_.path(), expected);
  json config = json::parse(testing::read_file(tmp_ / "out" / "config.json"));
  EXPECT_EQ(config["text_config"]["num_hidden_layers"], 3);
  EXPECT_EQ(config["vision_config"]["num_hidden_layers"], 2);
  EXPECT_EQ(testing::read_file(tmp_ / "out" / "processor_config.json"), "{\"patch_size\": 4}\n");
  fs::remove_all(tmp_ / "out");

  // Vision layers [0, 2) then [1, 2) of ft2: three output layers, 0 <- 0, 1 <- 1, 2 <- 1.
  merge(tmp_.path(), R"(merge_method: passthrough
dtype: float32
modules:
  text_decoder: {models: [{model: ft1}]}
  multi_modal_projector: {models: [{model: ft1}]}
  vision_tower:
    slices:
      - sources: [{model: ft2, layer_range: [0, 2]}]
      - sources: [{model: ft2, layer_range: [1, 2]}]
)");
  expected.clear();
  const std::string vision = "vision_tower.transformer.layers.";
  for (const std::string& name : base->tensor_names()) {
    if (auto layer = split(name, vision)) {
      expected[name] = {{"ft2", name, 1.0}};
      if (layer->first == 1) expected[vision + "2" + layer->second] = {{"ft2", name, 1.0}};
    } else {
      expected[name] = {{name.rfind("vision_tower.", 0) == 0 ? "ft2" : "ft1", name, 1.0}};
    }
  }
  expect_output(tmp_.path(), expected);
  config = json::parse(testing::read_file(tmp_ / "out" / "config.json"));
  EXPECT_EQ(config["vision_config"]["num_hidden_layers"], 3);
  EXPECT_EQ(config["text_config"]["num_hidden_layers"], 3);
}

// alloy inspect's module lines against the checkpoint's own names: each module holds the tensors
// under its weight prefix, and every tensor is in exactly one module.
TEST_F(ModulesTest, InspectCountsEachModulesTensors) {
  for (const std::string name : {"gemma3-vl", "mistral3"}) {
    SCOPED_TRACE(name);
    const fs::path dir = tmp_ / name;
    write_family(name, dir);
    const CheckpointSummary s = summarize_checkpoint(dir / "base");
    auto ck = Checkpoint::open(dir / "base");
    ASSERT_EQ(s.modules.size(), 3u);
    uint64_t tensors = 0, parameters = 0;
    for (const ModuleSummary& m : s.modules) {
      uint64_t want_tensors = 0, want_parameters = 0;
      for (const std::string& t : ck->tensor_names())
        if (t.rfind(m.weight_prefix, 0) == 0) {
          ++want_tensors;
          want_parameters += static_cast<uint64_t>(ck->tensor(t).numel());
        }
      EXPECT_EQ(m.tensor_count, want_tensors) << m.name;
      EXPECT_EQ(m.parameter_count, want_parameters) << m.name;
      tensors += m.tensor_count;
      parameters += m.parameter_count;
      const std::string text = summary_text(s, false);
      const size_t at = text.find("module " + m.name + " ");
      ASSERT_NE(at, std::string::npos) << text;
      const std::string line = text.substr(at, text.find('\n', at) - at);
      EXPECT_NE(line.find(cat("'", m.weight_prefix, "': ", m.num_layers, " layers, ", want_tensors, " tensors, ")),
                std::string::npos) << line;
    }
    EXPECT_EQ(tensors, s.tensor_count);
    EXPECT_EQ(parameters, s.parameter_count);
    const json j = json::parse(summary_json_text(s, false));
    EXPECT_EQ(j["modules"].size(), 3u);
    EXPECT_EQ(j["modules"][0]["tensor_count"], s.modules[0].tensor_count);
  }
}

TEST_F(ModulesTest, ArchitectureDescribesEachModule) {
  write_family("gemma3-vl", tmp_.path());
  auto base = Checkpoint::open(tmp_ / "base");
  const Architecture arch = architecture_of(*base);
  EXPECT_EQ(arch.description, "gemma3-vl.json");
  ASSERT_EQ(arch.modules.size(), 3u);
  std::map<std::string, const ArchModule*> by_name;
  for (const auto& m : arch.modules) by_name[m.name] = &m;
  ASSERT_TRUE(by_name.count("text_decoder") && by_name.count("vision_tower") && by_name.count("multi_modal_projector"));
  EXPECT_EQ(by_name["text_decoder"]->arch.num_layers, 3);
  EXPECT_EQ(by_name["text_decoder"]->arch.layer_prefix, "language_model.model.layers.");
  EXPECT_EQ(by_name["text_decoder"]->arch.num_layers_key, "text_config.num_hidden_layers");
  EXPECT_EQ(by_name["vision_tower"]->arch.num_layers, 2);
  EXPECT_EQ(by_name["vision_tower"]->arch.num_layers_key, "vision_config.num_hidden_layers");
  EXPECT_EQ(by_name["multi_modal_projector"]->arch.num_layers, 0);
  EXPECT_EQ(by_name["multi_modal_projector"]->arch.pre_weights.size(), 2u);
  // The top level is the text decoder, holding every other tensor once as a loose weight.
  EXPECT_EQ(arch.num_layers, 3);
  EXPECT_EQ(arch.vocab_size_key, "text_config.vocab_size");
  std::multiset<std::string> listed;
  for (const auto* section : {&arch.pre_weights, &arch.post_weights})
    for (const auto& w : *section) listed.insert(w.name);
  for (int l = 0; l < arch.num_layers; ++l)
    for (const auto& w : arch.layer_weights) listed.insert(instantiate(w.name, l));
  std::multiset<std::string> want(base->tensor_names().begin(), base->tensor_names().end());
  want.insert("language_model.lm_head.weight");  // listed as the optional tied head
  EXPECT_EQ(listed, want);
  EXPECT_EQ(arch.tagalong_files, (std::vector<std::string>{"preprocessor_config.json", "processor_config.json"}));
}

TEST_F(ModulesTest, RecipesThatDoNotFitTheModulesAreRefused) {
  write_family("gemma3-vl", tmp_.path());
  std::string msg = merge_error(tmp_.path(), "merge_method: passthrough\nslices:\n"
                                             "  - sources: [{model: ft1, layer_range: [0, 2]}]\n");
  EXPECT_NE(msg.find("recipe.yml:3: Gemma3ForConditionalGeneration has multiple modules (multi_modal_projector, "
                     "text_decoder, vision_tower)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("use modules:"), std::string::npos) << msg;

  msg = merge_error(tmp_.path(), "merge_method: linear\nmodules:\n"
                                 "  text_decoder: {models: [{model: ft1}]}\n"
                                 "  vision_tower: {models: [{model: ft1}]}\n"
                                 "  projector: {models: [{model: ft1}]}\n");
  EXPECT_NE(msg.find("recipe.yml:5: module 'projector' is not a module of Gemma3ForConditionalGeneration "
                     "(data/architectures/gemma3-vl.json); its modules: multi_modal_projector, text_decoder, "
                     "vision_tower"), std::string::npos) << msg;

  msg = merge_error(tmp_.path(), "merge_method: linear\nmodules:\n"
                                 "  text_decoder: {models: [{model: ft1}]}\n"
                                 "  multi_modal_projector: {models: [{model: ft1}]}\n");
  EXPECT_NE(msg.find("recipe.yml:2: modules: has no entry for 'vision_tower'"), std::string::npos) << msg;

  // A text-only model has one module, "default"; its modules: recipe names no vision tower.
  msg = merge_error(tmp_.path(), "merge_method: linear\nmodules:\n  default: {models: [{model: ft1}]}\n");
  EXPECT_NE(msg.find("module 'default' is not a module of Gemma3ForConditionalGeneration"), std::string::npos) << msg;

  // Module slices are checked against that module's layers.
  msg = merge_error(tmp_.path(), "merge_method: passthrough\nmodules:\n"
                                 "  text_decoder: {models: [{model: ft1}]}\n"
                                 "  multi_modal_projector: {models: [{model: ft1}]}\n"
                                 "  vision_tower:\n    slices:\n      - sources: [{model: ft1, layer_range: [0, 3]}]\n");
  EXPECT_NE(msg.find("layer_range [0, 3] of 'ft1' is past its 2 layers in module vision_tower"), std::string::npos)
      << msg;
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

// A model of one module has the module "default": modules: {default: ...} is its models: recipe,
// with the module's parameters under the model's own.
TEST_F(ModulesTest, SingleModuleModelsHaveTheDefaultModule) {
  FixtureSpec spec = testing::small_llama(2);
  spec.threads = 1;
  write_fixture_family(spec, tmp_.path());
  merge(tmp_.path(), "merge_method: linear\ndtype: float32\nparameters: {weight: 5.0, normalize: false}\nmodules:\n"
                     "  default:\n    models:\n      - {model: ft1, parameters: {weight: 0.5}}\n      - {model: ft2}\n"
                     "    parameters: {weight: 0.25}\n");
  auto ft1 = Checkpoint::open(tmp_ / "ft1");
  std::map<std::string, std::vector<Term>> expected;
  for (const std::string& name : ft1->tensor_names()) expected[name] = {{"ft1", name, 0.5}, {"ft2", name, 0.25}};
  expect_output(tmp_.path(), expected);
}

// A tensor outside every module's weight prefix is named, not merged or dropped silently.
TEST_F(ModulesTest, ATensorOfNoModuleIsAnError) {
  json file = json::parse(testing::read_file(kModularDir / "gemma3-vl.json"));
  file["tensors"].push_back({{"name", "audio_tower.proj.weight"}, {"shape", {2, 2}}});
  FixtureSpec spec;
  spec.arch = std::make_shared<ArchFixture>(parse_arch_fixture("gemma3-vl-audio", file));
  spec.threads = 1;
  write_fixture_family(spec, tmp_.path());
  auto base = Checkpoint::open(tmp_ / "base");
  const std::string msg = testing::error_message([&] { architecture_of(*base); }, "describing the model");
  EXPECT_NE(msg.find("tensor 'audio_tower.proj.weight' belongs to none of the modules of the "
                     "Gemma3ForConditionalGeneration description (data/architectures/gemma3-vl.json): "
                     "multi_modal_projector 'multi_modal_projector.', text_decoder 'language_model.', "
                     "vision_tower 'vision_tower.vision_model.'"), std::string::npos) << msg;
}

TEST_F(ModulesTest, CheckDescribesTheModules) {
  write_family("gemma3-vl", tmp_.path());
  testing::write_file(tmp_ / "recipe.yml", R"(merge_method: passthrough
modules:
  text_decoder:
    slices:
      - sources: [{model: ft1, layer_range: [0, 3]}]
      - sources: [{model: ft2, layer_range: [2, 3]}]
  vision_tower: {models: [{model: ft2}]}
  multi_modal_projector: {models: [{model: ft2}]}
)");
  auto r = testing::run_alloy("check recipe.yml", tmp_.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("module text_decoder ('language_model.'): 54 tensors, 4 layers from slices (config "
                          "text_config.num_hidden_layers)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("module vision_tower ('vision_tower.vision_model.'): 37 tensors, 2 layers, merged whole"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("module multi_modal_projector ('multi_modal_projector.'): 2 tensors, 0 layers"),
            std::string::npos) << r.output;
}

}  // namespace
}  // namespace alloy
