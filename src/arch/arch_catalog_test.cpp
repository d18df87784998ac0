#include "arch/arch_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDataDir = fs::path(ALLOY_SOURCE_DIR) / "data" / "architectures";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ArchCatalogTest, EmbeddedCopiesMatchFiles) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(kDataDir))
    if (e.path().extension() == ".json") files[e.path().filename().string()] = read_text(e.path());
  std::map<std::string, std::string> embedded;
  std::string previous;
  for (const auto& f : embedded_architecture_files()) {
    EXPECT_LT(previous, f.name) << "embedded files must be sorted by name";
    previous = std::string(f.name);
    embedded[std::string(f.name)] = std::string(f.text);
  }
  ASSERT_FALSE(files.empty());
  for (const auto& [name, text] : files) {
    auto it = embedded.find(name);
    ASSERT_NE(it, embedded.end()) << "data/architectures/" << name << " is not compiled in; re-run cmake";
    EXPECT_EQ(it->second, text) << "the build has a stale copy of data/architectures/" << name << "; re-run cmake";
  }
  for (const auto& [name, text] : embedded)
    EXPECT_TRUE(files.count(name)) << "the build embeds " << name << " which data/architectures lacks; re-run cmake";
}

TEST(ArchCatalogTest, EveryDescriptionParses) {
  const auto& catalog = architecture_catalog();
  ASSERT_EQ(catalog.size(), embedded_architecture_files().size());
  for (const char* cls : {"LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM", "Qwen2ForCausalLM",
                          "Qwen2MoeForCausalLM", "Qwen3ForCausalLM", "Qwen3MoeForCausalLM", "Glm4ForCausalLM",
                          "Glm4MoeForCausalLM", "GptOssForCausalLM", "DeepseekV3ForCausalLM", "GemmaForCausalLM",
                          "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM", "GPT2LMHeadModel",
                          "GPTNeoXForCausalLM", "FalconForCausalLM", "StableLmForCausalLM", "Starcoder2ForCausalLM",
                          "BertModel", "BertForMaskedLM", "RobertaForMaskedLM", "XLMRobertaForMaskedLM",
                          "T5ForConditionalGeneration", "Gemma3ForConditionalGeneration",
                          "Mistral3ForConditionalGeneration"})
    EXPECT_FALSE(descriptions_for(cls).empty()) << cls;
  EXPECT_TRUE(descriptions_for("NoSuchModel").empty());
  EXPECT_EQ(descriptions_for("GPT2LMHeadModel").size(), 2u);  // with and without "transformer."
}

TEST(ArchCatalogTest, ParsesFields) {
  json d = json::parse(R"({
    "architectures": ["X"], "model_type": "x", "layer_prefix": "m.l.", "num_layers_config_key": "n",
    "vocab_size_config_key": "text_config.vocab_size",
    "pre_weights": [{"name": "m.e.weight", "is_embed": true}, {"name": "m.p", "optional": true, "force_dtype": "int64"}],
    "layer_weights": [{"name": "m.l.${layer_index}.w", "aliases": ["m.l.${layer_index}.gamma"]}],
    "post_weights": [{"name": "head.weight", "is_embed": true, "optional": true, "tied_names": ["m.e.weight"]}]
  })");
  ArchDescription a = parse_arch_description("x.json", d);
  EXPECT_EQ(a.file, "x.json");
  EXPECT_EQ(a.architectures, std::vector<std::string>{"X"});
  EXPECT_EQ(a.model_type, "x");
  EXPECT_EQ(a.layer_prefix, "m.l.");
  EXPECT_EQ(a.num_layers_key, "n");
  EXPECT_EQ(a.vocab_size_key, "text_config.vocab_size");
  ASSERT_EQ(a.pre_weights.size(), 2u);
  EXPECT_TRUE(a.pre_weights[0].is_embed);
  EXPECT_EQ(a.pre_weights[1].force_dtype, DType::I64);
  EXPECT_EQ(a.layer_weights[0].aliases, std::vector<std::string>{"m.l.${layer_index}.gamma"});
  EXPECT_EQ(a.post_weights[0].tied_names, std::vector<std::string>{"m.e.weight"});
  EXPECT_TRUE(a.num_experts_key.empty());
}

TEST(ArchCatalogTest, ParsesExpertsAndLayerBounds) {
  json d = json::parse(R"({
    "architectures": ["X"], "layer_prefix": "m.l.", "num_experts_config_key": "moe.n",
    "layer_weights": [{"name": "m.l.${layer_index}.e.${expert_index}.w", "layers_from": "k"},
                      {"name": "m.l.${layer_index}.d.w", "layers_below": "k"},
                      {"name": "m.l.${layer_index}.r", "layers_below": 1}]
  })");
  ArchDescription a = parse_arch_description("x.json", d);
  EXPECT_EQ(a.num_experts_key, "moe.n");
  ASSERT_EQ(a.layer_weights.size(), 3u);
  EXPECT_EQ(a.layer_weights[0].layers_from, "k");
  EXPECT_EQ(a.layer_weights[0].layers_below, "");
  EXPECT_EQ(a.layer_weights[1].layers_below, "k");
  EXPECT_EQ(a.layer_weights[2].layers_below, "1");
}

std::string parse_error(const std::string& text) {
  try {
    parse_arch_description("bad.json", json::parse(text));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A modular description: each module's names carry its weight prefix, aliases and ties included.
TEST(ArchCatalogTest, ParsesModularDescriptions) {
  const ArchDescription d = parse_arch_description("vl.json", json::parse(R"({
    "kind": "modular", "architectures": ["VL"], "model_type": "vl", "vocab_size_config_key": "text_config.vocab_size",
    "tagalong_files": ["processor_config.json"],
    "modules": {
      "text": {"weight_prefix": "lm.", "architecture": {
        "layer_prefix": "layers.", "num_layers_config_key": "text_config.n",
        "pre_weights": [{"name": "embed.weight", "is_embed": true}],
        "layer_weights": [{"name": "layers.${layer_index}.w", "aliases": ["layers.${layer_index}.v"]}],
        "post_weights": [{"name": "head.weight", "optional": true, "tied_names": ["embed.weight"]}]}},
      "vision": {"weight_prefix": "vt.", "architecture": {"pre_weights": [{"name": "patch.weight"}]}}}})"));
  EXPECT_TRUE(d.pre_weights.empty() && d.layer_weights.empty() && d.post_weights.empty());
  EXPECT_EQ(d.tagalong_files, std::vector<std::string>{"processor_config.json"});
  ASSERT_EQ(d.modules.size(), 2u);
  const ArchDescription& text = d.modules[0].arch;
  EXPECT_EQ(d.modules[0].name, "text");
  EXPECT_EQ(d.modules[0].weight_prefix, "lm.");
  EXPECT_EQ(text.layer_prefix, "lm.layers.");
  EXPECT_EQ(text.num_layers_key, "text_config.n");
  EXPECT_EQ(text.vocab_size_key, "text_config.vocab_size");
  EXPECT_EQ(text.architectures, std::vector<std::string>{"VL"});
  EXPECT_EQ(text.pre_weights[0].name, "lm.embed.weight");
  EXPECT_EQ(text.layer_weights[0].name, "lm.layers.${layer_index}.w");
  EXPECT_EQ(text.layer_weights[0].aliases[0], "lm.layers.${layer_index}.v");
  EXPECT_EQ(text.post_weights[0].tied_names[0], "lm.embed.weight");
  EXPECT_EQ(d.modules[1].arch.layer_prefix, "");  // no layers
  EXPECT_EQ(d.modules[1].arch.pre_weights[0].name, "vt.patch.weight");
}

TEST(ArchCatalogTest, RejectsBadModularDescriptions) {
  const std::string head = R"({"kind": "modular", "architectures": ["X"], )";
  EXPECT_EQ(parse_error(R"({"kind": "modulr", "architectures": ["X"]})"), "bad.json: unknown kind 'modulr' (module or modular)");
  EXPECT_EQ(parse_error(head + R"("modules": {}})"),
            "bad.json: a modular description needs 'modules': {name: {weight_prefix, architecture}, ...}");
  EXPECT_EQ(parse_error(head + R"("layer_prefix": "a.", "modules": {"m": {"architecture": {}}}})"),
            "bad.json: unknown field 'layer_prefix' in a modular description");
  EXPECT_EQ(parse_error(head + R"("modules": {"m": {"weight_prefix": "a."}}})"),
            "bad.json: module 'm': missing 'architecture' (an object)");
  EXPECT_EQ(parse_error(head + R"("modules": {"m": {"architecture": {"architectures": ["Y"]}}}})"),
            "bad.json: module 'm': unknown field 'architectures' in 'architecture'");
  EXPECT_EQ(parse_error(head + R"("modules": {"m": {"weight_prefix": "a.", "architecture": {}}, "n": {"weight_prefix": "a.", "architecture": {}}}})"),
            "bad.json: module 'n': weight_prefix 'a.' is also another module's");
  EXPECT_EQ(parse_error(head + R"("modules": {"m": {"architecture": {"layer_weights": [{"name": "l.${layer_index}.w"}]}}}})"),
            "bad.json: module 'm': 'layer_weights' given without 'layer_prefix'");
  EXPECT_EQ(parse_error(head + R"("tagalong_files": ["../x.json"], "modules": {"m": {"architecture": {}}}})"),
            "bad.json: tagalong file '../x.json' must be a file name in the model directory");
}

TEST(ArchCatalogTest, RejectsBadDescriptions) {
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layers": []})"), "bad.json: unknown field 'layers'");
  EXPECT_EQ(parse_error(R"({"layer_prefix": "a."})"), "bad.json: 'architectures' must list at least one class name");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "e", "embed": true}]})"),
            "bad.json: unknown field 'embed' in 'pre_weights'");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layer_prefix": "a.", "layer_weights": [{"name": "b.${layer_index}.w"}]})"),
            "bad.json: layer weight 'b.${layer_index}.w' does not start with 'a.${layer_index}.'");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layer_weights": [{"name": "a.${layer_index}.w"}]})"),
            "bad.json: 'layer_weights' given without 'layer_prefix'");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "a.${layer_index}"}]})"),
            "bad.json: 'a.${layer_index}' outside layer_weights has a placeholder");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "e", "force_dtype": "int3"}]})"),
            "bad.json: unknown force_dtype 'int3' for 'e'");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "e"}], "post_weights": [{"name": "e"}]})"),
            "bad.json: weight 'e' listed twice");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "e", "optional": 1}]})"),
            "bad.json: 'optional' must be true or false");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layer_prefix": "a.", "layer_weights": [{"name": "a.${layer_index}.e.${expert_index}"}]})"),
            "bad.json: 'a.${layer_index}.e.${expert_index}' uses ${expert_index} but the description has no 'num_experts_config_key'");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layer_prefix": "a.", "layer_weights": [{"name": "a.${layer_index}.${head}"}]})"),
            "bad.json: 'a.${layer_index}.${head}' has an unknown placeholder (known: ${layer_index}, ${expert_index})");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "pre_weights": [{"name": "e", "layers_below": 2}]})"),
            "bad.json: 'e' has a layer bound outside layer_weights");
  EXPECT_EQ(parse_error(R"({"architectures": ["X"], "layer_prefix": "a.", "layer_weights": [{"name": "a.${layer_index}.w", "layers_from": -1}]})"),
            "bad.json: 'layers_from' of 'a.${layer_index}.w' must be a config.json key or a layer number");
}

}  // namespace
}  // namespace alloy
