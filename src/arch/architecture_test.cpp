#include "arch/architecture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <set>

#include "../../tests/test_support.h"
#include "io/safetensors.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;

// A throwaway checkpoint directory: tensors of zeros with the given names, shapes and dtypes, and
// an optional config.json.
class TinyModel {
 public:
  TinyModel() = default;
  TinyModel(const TinyModel&) = delete;
  TinyModel& operator=(const TinyModel&) = delete;

  TinyModel& tensor(const std::string& name, Shape shape = {2}, DType dtype = DType::F32) {
    auto& bytes = buffers_.emplace_back(numel(shape) * dtype_size(dtype));
    tensors_.push_back({name, TensorView{dtype, shape, bytes.data(), bytes.size()}});
    return *this;
  }
  // Adds prefix + i + "." + suffix for every layer i and suffix.
  TinyModel& layers(const std::string& prefix, int n, const std::vector<std::string>& suffixes) {
    for (int i = 0; i < n; ++i)
      for (const auto& s : suffixes) tensor(cat(prefix, i, ".", s));
    return *this;
  }
  TinyModel& config(json c) {
    config_ = std::move(c);
    return *this;
  }
  const fs::path& dir() const { return dir_; }
  std::shared_ptr<const Checkpoint> open() {
    write_safetensors(dir_ / "model.safetensors", tensors_);
    if (!config_.is_null()) write_json_file(dir_ / "config.json", config_);
    return Checkpoint::open(dir_);
  }
  Architecture arch() { return architecture_of(*open()); }

 private:
  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  std::deque<std::vector<std::byte>> buffers_;
  std::vector<NamedTensor> tensors_;
  json config_;
};

std::vector<std::string> names(const std::vector<WeightInfo>& ws) {
  std::vector<std::string> out;
  for (const auto& w : ws) out.push_back(w.name);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Every tensor of the checkpoint is one of the architecture's weights, and instantiating the
// architecture gives back exactly the checkpoint's tensors plus absent optional weights.
void expect_covers(const Checkpoint& ck, const Architecture& a) {
  std::set<std::string> expected;
  for (const auto* list : {&a.pre_weights, &a.post_weights})
    for (const auto& w : *list)
      if (ck.has(w.name) || !w.optional) expected.insert(w.name);
  for (const auto& w : a.layer_weights)
    for (int l = 0; l < a.num_layers; ++l)
      if (ck.has(instantiate(w.name, l)) || !w.optional) expected.insert(instantiate(w.name, l));
  std::set<std::string> actual(ck.tensor_names().begin(), ck.tensor_names().end());
  EXPECT_EQ(expected, actual);
  for (const auto& n : ck.tensor_names()) EXPECT_NE(find_weight(a, n), nullptr) << n;
}

const std::vector<std::string> kLlamaLayer = {
    "input_layernorm.weight",          "self_attn.q_proj.weight", "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",         "self_attn.o_proj.weight", "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",            "mlp.up_proj.weight",      "mlp.down_proj.weight"};

const std::vector<std::string> kGpt2Layer = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};

TEST(ArchitectureTest, Stories260KIsDescribedLlama) {
  auto ck = Checkpoint::open(fs::path(ALLOY_SHARED_DIR) / "stories260K" / "base");
  Architecture a = architecture_of(*ck);
  EXPECT_EQ(a.name, "LlamaForCausalLM");
  EXPECT_EQ(a.model_type, "llama");
  EXPECT_FALSE(a.inferred);
  EXPECT_EQ(a.description, "llama.json");
  EXPECT_EQ(a.layer_prefix, "model.layers.");
  EXPECT_EQ(a.num_layers, 5);
  EXPECT_EQ(a.num_layers_key, "num_hidden_layers");
  EXPECT_EQ(a.vocab_size_key, "vocab_size");

  ASSERT_EQ(names(a.pre_weights), std::vector<std::string>{"model.embed_tokens.weight"});
  EXPECT_TRUE(a.pre_weights[0].is_embed);
  EXPECT_FALSE(a.pre_weights[0].optional);

  ASSERT_EQ(names(a.post_weights), (std::vector<std::string>{"model.norm.weight", "lm_head.weight"}));
  EXPECT_FALSE(a.post_weights[0].is_embed);
  const WeightInfo& head = a.post_weights[1];
  EXPECT_TRUE(ck->has("lm_head.weight"));  // present: stories260K is untied
  EXPECT_TRUE(head.is_embed);
  EXPECT_TRUE(head.optional);
  EXPECT_EQ(head.tied_names, std::vector<std::string>{"model.embed_tokens.weight"});

  int required = 0;
  for (const auto& w : a.layer_weights) {
    EXPECT_EQ(w.name.rfind("model.layers.${layer_index}.", 0), 0u) << w.name;
    EXPECT_FALSE(w.is_embed);
    required += !w.optional;
  }
  EXPECT_EQ(required, 9);
  expect_covers(*ck, a);
}

TEST(ArchitectureTest, Stories260KModelsAreCompatible) {
  std::vector<std::pair<std::string, Architecture>> models;
  for (const char* m : {"base", "python", "cheaders", "man"})
    models.emplace_back(m, architecture_of(*Checkpoint::open(fs::path(ALLOY_SHARED_DIR) / "stories260K" / m)));
  EXPECT_NO_THROW(check_compatible(models, false));
  EXPECT_TRUE(compatible(models[0].second, models[3].second));
}

TEST(ArchitectureTest, Gpt2TiedHeadIsListedOptional) {
  TinyModel m;
  m.tensor("transformer.wte.weight", {8, 4}).tensor("transformer.wpe.weight", {6, 4});
  m.layers("transformer.h.", 2, kGpt2Layer);
  m.tensor("transformer.ln_f.weight").tensor("transformer.ln_f.bias");
  m.config({{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_layer", 2}, {"vocab_size", 8}});
  auto ck = m.open();
  Architecture a = architecture_of(*ck);
  EXPECT_EQ(a.name, "GPT2LMHeadModel");
  EXPECT_EQ(a.description, "gpt2.json");
  EXPECT_FALSE(a.inferred);
  EXPECT_EQ(a.layer_prefix, "transformer.h.");
  EXPECT_EQ(a.num_layers, 2);
  EXPECT_EQ(a.num_layers_key, "n_layer");
  EXPECT_EQ(names(a.pre_weights), (std::vector<std::string>{"transformer.wte.weight", "transformer.wpe.weight"}));
  EXPECT_TRUE(find_weight(a, "transformer.wte.weight")->is_embed);
  EXPECT_FALSE(find_weight(a, "transformer.wpe.weight")->is_embed);  // position embedding
  EXPECT_EQ(names(a.post_weights),
            (std::vector<std::string>{"transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"}));
  EXPECT_FALSE(ck->has("lm_head.weight"));
  const WeightInfo* head = find_weight(a, "lm_head.weight");
  ASSERT_NE(head, nullptr);
  EXPECT_TRUE(head->optional);
  EXPECT_TRUE(head->is_embed);
  EXPECT_EQ(head->tied_names, std::vector<std::string>{"transformer.wte.weight"});
  expect_covers(*ck, a);
}

TEST(ArchitectureTest, Gpt2TiedAndUntiedAreCompatible) {
  TinyModel tied, untied;
  for (TinyModel* m : {&tied, &untied}) {
    m->tensor("transformer.wte.weight", {8, 4}).tensor("transformer.wpe.weight", {6, 4});
    m->layers("transformer.h.", 2, kGpt2Layer);
    m->tensor("transformer.ln_f.weight").tensor("transformer.ln_f.bias");
    m->config({{"architectures", {"GPT2LMHeadModel"}}, {"n_layer", 2}});
  }
  untied.tensor("lm_head.weight", {8, 4});
  Architecture a = tied.arch(), b = untied.arch();
  EXPECT_TRUE(compatible(a, b));
  EXPECT_EQ(names(a.post_weights), names(b.post_weights));
}

TEST(ArchitectureTest, Gpt2WithoutTransformerPrefixUsesBareDescription) {
  TinyModel m;
  m.tensor("wte.weight", {8, 4}).tensor("wpe.weight", {6, 4});
  m.layers("h.", 3, kGpt2Layer);
  m.tensor("ln_f.weight").tensor("ln_f.bias");
  m.config({{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_layer", 3}});
  Architecture a = m.arch();
  EXPECT_EQ(a.description, "gpt2-bare.json");
  EXPECT_EQ(a.layer_prefix, "h.");
  EXPECT_EQ(a.num_layers, 3);
  EXPECT_EQ(names(a.post_weights), (std::vector<std::string>{"ln_f.weight", "ln_f.bias", "lm_head.weight"}));
  EXPECT_EQ(find_weight(a, "lm_head.weight")->tied_names, std::vector<std::string>{"wte.weight"});
}

TEST(ArchitectureTest, BertMaskedLm) {
  const std::vector<std::string> layer = {
      "attention.self.query.weight",        "attention.self.query.bias",
      "attention.self.key.weight",          "attention.self.key.bias",
      "attention.self.value.weight",        "attention.self.value.bias",
      "attention.output.dense.weight",      "attention.output.dense.bias",
      "attention.output.LayerNorm.gamma",   "attention.output.LayerNorm.beta",
      "intermediate.dense.weight",          "intermediate.dense.bias",
      "output.dense.weight",                "output.dense.bias",
      "output.LayerNorm.weight",            "output.LayerNorm.bias"};
  TinyModel m;
  m.tensor("bert.embeddings.word_embeddings.weight", {8, 4})
      .tensor("bert.embeddings.position_embeddings.weight", {6, 4})
      .tensor("bert.embeddings.token_type_embeddings.weight", {2, 4})
      .tensor("bert.embeddings.LayerNorm.weight")
      .tensor("bert.embeddings.LayerNorm.bias")
      .tensor("bert.embeddings.position_ids", {1, 6}, DType::I64);
  m.layers("bert.encoder.layer.", 2, layer);
  m.tensor("bert.pooler.dense.weight", {4, 4}).tensor("bert.pooler.dense.bias", {4});
  for (const char* n : {"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                        "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                        "cls.predictions.transform.LayerNorm.bias"})
    m.tensor(n);
  m.config({{"architectures", {"BertForMaskedLM"}}, {"model_type", "bert"}, {"num_hidden_layers", 2}});
  auto ck = m.open();
  Architecture a = architecture_of(*ck);
  EXPECT_EQ(a.description, "bert-masked-lm.json");
  EXPECT_EQ(a.layer_prefix, "bert.encoder.layer.");
  EXPECT_EQ(a.num_layers, 2);

  const WeightInfo* pos = find_weight(a, "bert.embeddings.position_ids");
  ASSERT_NE(pos, nullptr);
  EXPECT_EQ(pos->force_dtype, DType::I64);
  EXPECT_TRUE(find_weight(a, "bert.embeddings.word_embeddings.weight")->is_embed);
  EXPECT_FALSE(find_weight(a, "bert.embeddings.position_embeddings.weight")->is_embed);

  // The old gamma/beta spelling is folded into the canonical name, with the alias kept.
  auto split = split_layer_name(a, "bert.encoder.layer.1.attention.output.LayerNorm.gamma");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->first, "bert.encoder.layer.${layer_index}.attention.output.LayerNorm.weight");
  EXPECT_EQ(split->second, 1);
  const WeightInfo* ln = find_weight(a, split->first);
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(ln->aliases,
            std::vector<std::string>{"bert.encoder.layer.${layer_index}.attention.output.LayerNorm.gamma"});

  auto post = names(a.post_weights);
  EXPECT_EQ(post.front(), "bert.pooler.dense.weight");
  const WeightInfo* decoder = find_weight(a, "cls.predictions.decoder.weight");
  ASSERT_NE(decoder, nullptr);  // absent but declared: tied to the word embeddings
  EXPECT_TRUE(decoder->optional);
  EXPECT_EQ(decoder->tied_names, std::vector<std::string>{"bert.embeddings.word_embeddings.weight"});
  EXPECT_TRUE(std::find(post.begin(), post.end(), "cls.predictions.decoder.weight") != post.end());
  EXPECT_TRUE(std::none_of(a.pre_weights.begin(), a.pre_weights.end(),
                           [](const WeightInfo& w) { return w.name.rfind("cls.", 0) == 0; }));
}

TEST(ArchitectureTest, BertModelWithoutPrefix) {
  TinyModel m;
  m.tensor("embeddings.word_embeddings.weight", {8, 4})
      .tensor("embeddings.position_embeddings.weight", {6, 4})
      .tensor("embeddings.token_type_embeddings.weight", {2, 4})
      .tensor("embeddings.LayerNorm.weight")
      .tensor("embeddings.LayerNorm.bias");
  m.layers("encoder.layer.", 1,
           {"attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
            "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
            "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
            "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"});
  m.tensor("pooler.dense.weight", {4, 4}).tensor("pooler.dense.bias", {4});
  m.config({{"architectures", {"BertModel"}}, {"num_hidden_layers", 1}});
  Architecture a = m.arch();
  EXPECT_EQ(a.description, "bert.json");
  EXPECT_EQ(a.layer_prefix, "encoder.layer.");
  EXPECT_EQ(names(a.post_weights), (std::vector<std::string>{"pooler.dense.weight", "pooler.dense.bias"}));
  // position_ids is declared optional and joins the pre-weights even though absent.
  EXPECT_EQ(names(a.pre_weights).back(), "embeddings.position_ids");
}

TEST(ArchitectureTest, GptNeoX) {
  TinyModel m;
  m.tensor("gpt_neox.embed_in.weight", {8, 4});
  m.layers("gpt_neox.layers.", 2,
           {"input_layernorm.weight", "input_layernorm.bias", "post_attention_layernorm.weight",
            "post_attention_layernorm.bias", "attention.query_key_value.weight", "attention.query_key_value.bias",
            "attention.dense.weight", "attention.dense.bias", "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias",
            "mlp.dense_4h_to_h.weight", "mlp.dense_4h_to_h.bias"});
  m.tensor("gpt_neox.final_layer_norm.weight").tensor("gpt_neox.final_layer_norm.bias");
  m.tensor("embed_out.weight", {8, 4});
  m.config({{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"}, {"num_hidden_layers", 2}});
  auto ck = m.open();
  Architecture a = architecture_of(*ck);
  EXPECT_EQ(a.description, "gpt-neox.json");
  EXPECT_EQ(a.layer_prefix, "gpt_neox.layers.");
  EXPECT_EQ(a.num_layers, 2);
  EXPECT_EQ(names(a.pre_weights), std::vector<std::string>{"gpt_neox.embed_in.weight"});
  EXPECT_EQ(names(a.post_weights), (std::vector<std::string>{"gpt_neox.final_layer_norm.weight",
                                                              "gpt_neox.final_layer_norm.bias", "embed_out.weight"}));
  EXPECT_TRUE(find_weight(a, "embed_out.weight")->is_embed);
  EXPECT_TRUE(find_weight(a, "gpt_neox.embed_in.weight")->is_embed);
  expect_covers(*ck, a);
}

TEST(ArchitectureTest, NoConfigIsInferred) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 3, kLlamaLayer);
  m.tensor("model.norm.weight");
  auto ck = m.open();
  Architecture a = architecture_of(*ck);
  EXPECT_EQ(a.name, "unknown");
  EXPECT_TRUE(a.inferred);
  EXPECT_TRUE(a.description.empty());
  EXPECT_EQ(a.layer_prefix, "model.layers.");
  EXPECT_EQ(a.num_layers, 3);
  EXPECT_TRUE(a.num_layers_key.empty());
  EXPECT_EQ(a.layer_weights.size(), kLlamaLayer.size());
  EXPECT_EQ(names(a.pre_weights), std::vector<std::string>{"model.embed_tokens.weight"});
  EXPECT_TRUE(a.pre_weights[0].is_embed);
  // The inferred tie rule lists the absent lm_head, optional and tied.
  ASSERT_EQ(names(a.post_weights), (std::vector<std::string>{"model.norm.weight", "lm_head.weight"}));
  EXPECT_TRUE(a.post_weights[1].optional);
  EXPECT_TRUE(a.post_weights[1].is_embed);
  EXPECT_EQ(a.post_weights[1].tied_names, std::vector<std::string>{"model.embed_tokens.weight"});
  expect_covers(*ck, a);
}

TEST(ArchitectureTest, UnknownClassIsInferredWithItsName) {
  TinyModel m;
  m.tensor("tok_embeddings.weight", {8, 4});
  m.layers("layers.", 2, {"attention.wq.weight", "attention_norm.weight", "feed_forward.w1.weight"});
  m.tensor("norm.weight").tensor("output.weight", {8, 4});
  m.config({{"architectures", {"FooForCausalLM"}}, {"n_layers", 2}});
  Architecture a = m.arch();
  EXPECT_EQ(a.name, "FooForCausalLM");
  EXPECT_TRUE(a.inferred);
  EXPECT_EQ(a.layer_prefix, "layers.");
  EXPECT_EQ(a.num_layers_key, "n_layers");
  EXPECT_EQ(names(a.pre_weights), std::vector<std::string>{"tok_embeddings.weight"});
  EXPECT_EQ(names(a.post_weights), (std::vector<std::string>{"norm.weight", "output.weight"}));
  const WeightInfo* out = find_weight(a, "output.weight");
  EXPECT_TRUE(out->is_embed);
  EXPECT_TRUE(out->optional);
  EXPECT_EQ(out->tied_names, std::vector<std::string>{"tok_embeddings.weight"});
}

TEST(ArchitectureTest, KnownClassWithOtherLayoutFallsBackToInference) {
  TinyModel m;
  m.tensor("embed.weight", {8, 4});
  m.layers("blocks.", 2, {"w.weight"});
  m.config({{"architectures", {"LlamaForCausalLM"}}, {"num_hidden_layers", 2}});
  Architecture a = m.arch();
  EXPECT_EQ(a.name, "LlamaForCausalLM");
  EXPECT_TRUE(a.inferred);
  EXPECT_EQ(a.layer_prefix, "blocks.");
}

TEST(ArchitectureTest, MainPrefixHasMostTensorsOthersAreLoose) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 2, kLlamaLayer);
  m.layers("vision.blocks.", 3, {"w.weight"});  // 3 tensors vs 18
  m.tensor("model.norm.weight");
  Architecture a = m.arch();
  EXPECT_EQ(a.layer_prefix, "model.layers.");
  EXPECT_EQ(a.num_layers, 2);
  EXPECT_EQ(names(a.pre_weights), (std::vector<std::string>{"model.embed_tokens.weight", "vision.blocks.0.w.weight",
                                                             "vision.blocks.1.w.weight", "vision.blocks.2.w.weight"}));
  EXPECT_FALSE(split_layer_name(a, "vision.blocks.1.w.weight"));
  EXPECT_NE(find_weight(a, "vision.blocks.1.w.weight"), nullptr);
}

TEST(ArchitectureTest, NestedIndicesStayInTheTemplate) {
  TinyModel m;
  m.layers("model.layers.", 2, {"mlp.experts.0.w1.weight", "mlp.experts.1.w1.weight", "mlp.gate.weight"});
  Architecture a = m.arch();
  EXPECT_EQ(names(a.layer_weights),
            (std::vector<std::string>{"model.layers.${layer_index}.mlp.experts.0.w1.weight",
                                      "model.layers.${layer_index}.mlp.experts.1.w1.weight",
                                      "model.layers.${layer_index}.mlp.gate.weight"}));
}

TEST(ArchitectureTest, NonFloatTensorsKeepTheirDtype) {
  TinyModel m;
  m.tensor("embeddings.position_ids", {1, 4}, DType::I64).tensor("embeddings.word_embeddings.weight", {8, 4});
  m.layers("layer.", 1, {"w.weight"});
  Architecture a = m.arch();
  EXPECT_EQ(find_weight(a, "embeddings.position_ids")->force_dtype, DType::I64);
  EXPECT_FALSE(find_weight(a, "embeddings.word_embeddings.weight")->force_dtype.has_value());
}

TEST(ArchitectureTest, ConfigLayerCountMismatchIsAnError) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 2, kLlamaLayer);
  m.tensor("model.norm.weight");
  m.config({{"architectures", {"LlamaForCausalLM"}}, {"num_hidden_layers", 3}});
  auto ck = m.open();
  std::string e = error_of([&] { architecture_of(*ck); });
  EXPECT_NE(e.find(m.dir().string()), std::string::npos) << e;
  EXPECT_NE(e.find("num_hidden_layers = 3"), std::string::npos) << e;
  EXPECT_NE(e.find("have 2 layers"), std::string::npos) << e;
}

TEST(ArchitectureTest, NestedLayerCountKey) {
  TinyModel m;
  m.layers("language_model.layers.", 2, {"w.weight"});
  m.config({{"text_config", {{"num_hidden_layers", 2}, {"vocab_size", 8}}}});
  Architecture a = m.arch();
  EXPECT_EQ(a.num_layers_key, "text_config.num_hidden_layers");
  EXPECT_EQ(a.vocab_size_key, "text_config.vocab_size");

  TinyModel bad;
  bad.layers("language_model.layers.", 2, {"w.weight"});
  bad.config({{"text_config", {{"num_hidden_layers", 4}}}});
  EXPECT_NE(error_of([&] { bad.arch(); }).find("text_config.num_hidden_layers = 4"), std::string::npos);
}

TEST(ArchitectureTest, LayerMissingATensorIsAnError) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 3, kLlamaLayer);
  m.tensor("model.norm.weight");
  auto ck = m.open();
  // Rebuild without layer 1's up_proj.
  TinyModel holed;
  for (const auto& n : ck->tensor_names())
    if (n != "model.layers.1.mlp.up_proj.weight") holed.tensor(n);
  std::string e = error_of([&] { holed.arch(); });
  EXPECT_NE(e.find(holed.dir().string()), std::string::npos) << e;
  EXPECT_NE(e.find("layer 1"), std::string::npos) << e;
  EXPECT_NE(e.find("'model.layers.1.mlp.up_proj.weight'"), std::string::npos) << e;
}

TEST(ArchitectureTest, MissingWholeLayerIsAnError) {
  TinyModel m;
  m.layers("model.layers.", 1, kLlamaLayer);
  for (const auto& s : kLlamaLayer) m.tensor("model.layers.2." + s);
  std::string e = error_of([&] { m.arch(); });
  EXPECT_NE(e.find("layer 1 lacks"), std::string::npos) << e;
}

TEST(ArchitectureTest, OptionalLayerWeightMayBeInSomeLayers) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 2, kLlamaLayer);
  m.tensor("model.layers.0.self_attn.rotary_emb.inv_freq");  // declared optional by mistral.json
  m.tensor("model.norm.weight");
  m.config({{"architectures", {"MistralForCausalLM"}}, {"num_hidden_layers", 2}});
  Architecture a = m.arch();
  EXPECT_EQ(a.description, "mistral.json");
  EXPECT_TRUE(find_weight(a, "model.layers.1.self_attn.rotary_emb.inv_freq")->optional);
}

// A DeepSeek-V3 checkpoint: layer 0 dense, layers 1.. with a router and `experts` experts.
void deepseek(TinyModel& m, int layers, int experts, const json& config) {
  m.tensor("model.embed_tokens.weight", {8, 4});
  const std::vector<std::string> attn = {"input_layernorm.weight", "self_attn.kv_a_proj_with_mqa.weight",
                                         "self_attn.kv_a_layernorm.weight", "self_attn.kv_b_proj.weight",
                                         "self_attn.o_proj.weight", "post_attention_layernorm.weight"};
  m.layers("model.layers.", layers, attn);
  m.layers("model.layers.", 1, {"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"});
  for (int l = 1; l < layers; ++l) {
    for (const char* w : {"mlp.gate.weight", "mlp.gate.e_score_correction_bias", "mlp.shared_experts.gate_proj.weight",
                          "mlp.shared_experts.up_proj.weight", "mlp.shared_experts.down_proj.weight"})
      m.tensor(cat("model.layers.", l, ".", w));
    for (int e = 0; e < experts; ++e)
      for (const char* w : {"gate_proj", "up_proj", "down_proj"}) m.tensor(cat("model.layers.", l, ".mlp.experts.", e, ".", w, ".weight"));
  }
  m.tensor("model.norm.weight");
  json c = {{"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}, {"num_hidden_layers", layers}};
  c.update(config);
  m.config(c);
}

TEST(ArchitectureTest, ExpertsAndDenseFirstLayersFromTheConfig) {
  TinyModel m;
  deepseek(m, 3, 2, {{"n_routed_experts", 2}, {"first_k_dense_replace", 1}});
  Architecture a = m.arch();
  EXPECT_EQ(a.description, "deepseek-v3.json");
  EXPECT_EQ(a.num_experts_key, "n_routed_experts");
  EXPECT_EQ(a.num_experts, 2);
  const WeightInfo* expert = find_weight(a, "model.layers.2.mlp.experts.1.up_proj.weight");
  ASSERT_NE(expert, nullptr);
  EXPECT_EQ(expert->name, "model.layers.${layer_index}.mlp.experts.1.up_proj.weight");
  EXPECT_TRUE(expert->optional);  // layer 0 lacks it
  EXPECT_EQ(find_weight(a, "model.layers.0.mlp.experts.2.up_proj.weight"), nullptr);  // no third expert
}

TEST(ArchitectureTest, ExpertsOrDenseLayersWhereTheConfigSaysNotAreErrors) {
  const std::string desc = "the DeepseekV3ForCausalLM description (data/architectures/deepseek-v3.json)";
  {
    TinyModel m;  // the config says two dense layers; layer 1 has experts instead
    deepseek(m, 3, 2, {{"n_routed_experts", 2}, {"first_k_dense_replace", 2}});
    EXPECT_EQ(error_of([&] { m.arch(); }),
              m.dir().string() + ": layer 1 lacks 'model.layers.1.mlp.gate_proj.weight', which " + desc +
                  " puts in layers below first_k_dense_replace (2)");
  }
  {
    TinyModel m;  // the config says no dense layer
    deepseek(m, 3, 2, {{"n_routed_experts", 2}, {"first_k_dense_replace", 0}});
    EXPECT_EQ(error_of([&] { m.arch(); }),
              m.dir().string() + ": layer 0 has 'model.layers.0.mlp.gate_proj.weight', which " + desc +
                  " puts only in layers below first_k_dense_replace (0)");
  }
  {
    TinyModel m;  // three experts by the config, two in the tensors
    deepseek(m, 3, 2, {{"n_routed_experts", 3}, {"first_k_dense_replace", 1}});
    EXPECT_EQ(error_of([&] { m.arch(); }),
              m.dir().string() + ": layer 1 lacks 'model.layers.1.mlp.experts.2.gate_proj.weight', which " + desc +
                  " puts in layers from first_k_dense_replace (1) on");
  }
  {
    TinyModel m;
    deepseek(m, 3, 2, {{"first_k_dense_replace", 1}});
    EXPECT_EQ(error_of([&] { m.arch(); }),
              m.dir().string() + ": config.json lacks 'n_routed_experts', the expert count that " + desc + " needs");
  }
  {
    TinyModel m;
    deepseek(m, 3, 2, {{"n_routed_experts", 2}});
    EXPECT_EQ(error_of([&] { m.arch(); }),
              m.dir().string() + ": config.json lacks 'first_k_dense_replace', a layer bound that " + desc + " needs");
  }
}

TEST(ArchitectureTest, DescriptionRequiredWeightMissingIsAnError) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 2, kLlamaLayer);  // no q/k/v biases
  m.tensor("model.norm.weight");
  m.config({{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"num_hidden_layers", 2}});
  std::string e = error_of([&] { m.arch(); });
  EXPECT_NE(e.find(m.dir().string()), std::string::npos) << e;
  EXPECT_NE(e.find("'model.layers.0.self_attn.q_proj.bias' is missing"), std::string::npos) << e;
  EXPECT_NE(e.find("qwen2.json"), std::string::npos) << e;
}

TEST(ArchitectureTest, Qwen2WithBiases) {
  TinyModel m;
  m.tensor("model.embed_tokens.weight", {8, 4});
  m.layers("model.layers.", 2, kLlamaLayer);
  m.layers("model.layers.", 2, {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"});
  m.tensor("model.norm.weight");
  m.config({{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"num_hidden_layers", 2}});
  Architecture a = m.arch();
  EXPECT_EQ(a.description, "qwen2.json");
  EXPECT_FALSE(find_weight(a, "model.layers.0.self_attn.q_proj.bias")->optional);
  EXPECT_EQ(a.layer_weights.size(), 12u);
}

TEST(ArchitectureTest, SeveralArchitecturesInConfigIsAnError) {
  TinyModel m;
  m.layers("model.layers.", 1, {"w.weight"});
  m.config({{"architectures", {"LlamaForCausalLM", "MistralForCausalLM"}}});
  std::string e = error_of([&] { m.arch(); });
  EXPECT_NE(e.find(m.dir().string()), std::string::npos) << e;
  EXPECT_NE(e.find("exactly one"), std::string::npos) << e;
  EXPECT_NE(e.find("LlamaForCausalLM, MistralForCausalLM"), std::string::npos) << e;

  TinyModel empty;
  empty.layers("model.layers.", 1, {"w.weight"});
  empty.config({{"architectures", json::array()}});
  EXPECT_NE(error_of([&] { empty.arch(); }).find("exactly one"), std::string::npos);
}

TEST(ArchitectureTest, NonIntegerLayerCountIsAnError) {
  TinyModel m;
  m.layers("model.layers.", 1, {"w.weight"});
  m.config({{"num_hidden_layers", "one"}});
  EXPECT_NE(error_of([&] { m.arch(); }).find("'num_hidden_layers' must be an integer"), std::string::npos);
}

TEST(ArchitectureTest, CheckCompatibleNamesModelsAndDifference) {
  TinyModel ma, mb;
  for (TinyModel* m : {&ma, &mb}) {
    m->tensor("model.embed_tokens.weight", {8, 4});
    m->layers("model.layers.", 2, {"mlp.w1.weight", "mlp.w2.weight"});
    m->tensor("model.norm.weight");
  }
  mb.layers("model.layers.", 2, {"mlp.w3.weight"});
  std::vector<std::pair<std::string, Architecture>> models = {{"models/a", ma.arch()}, {"models/b", mb.arch()}};
  EXPECT_FALSE(compatible(models[0].second, models[1].second));
  std::string e = error_of([&] { check_compatible(models, false); });
  EXPECT_NE(e.find("models/b has 'model.layers.N.mlp.w3.weight' which models/a lacks"), std::string::npos) << e;
  EXPECT_NE(e.find("--allow-crimes"), std::string::npos) << e;
  EXPECT_NO_THROW(check_compatible(models, true));

  std::swap(models[0], models[1]);
  e = error_of([&] { check_compatible(models, false); });
  EXPECT_NE(e.find("models/b has 'model.layers.N.mlp.w3.weight' which models/a lacks"), std::string::npos) << e;
}

TEST(ArchitectureTest, DifferentClassesOrPrefixesAreIncompatible) {
  Architecture llama, mistral, other;
  llama.name = "LlamaForCausalLM";
  llama.layer_prefix = "model.layers.";
  mistral = llama;
  mistral.name = "MistralForCausalLM";
  EXPECT_FALSE(compatible(llama, mistral));
  EXPECT_EQ(*architecture_difference("x", llama, "y", mistral), "x is LlamaForCausalLM but y is MistralForCausalLM");
  other = llama;
  other.name = "unknown";
  EXPECT_TRUE(compatible(llama, other));
  other.layer_prefix = "transformer.h.";
  EXPECT_FALSE(compatible(llama, other));
  EXPECT_NE(architecture_difference("x", llama, "y", other)->find("'transformer.h.'"), std::string::npos);

  // A weight one model lists as optional need not be in the other.
  Architecture a = llama, b = llama;
  a.post_weights.push_back({"lm_head.weight", true, true, {"model.embed_tokens.weight"}, {}, {}});
  EXPECT_TRUE(compatible(a, b));
  a.post_weights.back().optional = false;
  EXPECT_FALSE(compatible(a, b));
  EXPECT_NO_THROW(check_compatible({{"only", a}}, false));
}

TEST(ArchitectureTest, CheckCompatibleComparesEveryModelWithTheFirst) {
  Architecture a;
  a.name = "unknown";
  a.layer_prefix = "model.layers.";
  a.pre_weights.push_back({"model.embed_tokens.weight", true, false, {}, {}, {}});
  Architecture moved = a;
  moved.pre_weights.clear();
  moved.post_weights.push_back({"model.embed_tokens.weight", true, false, {}, {}, {}});
  std::string e = error_of([&] { check_compatible({{"m1", a}, {"m2", a}, {"m3", moved}}, false); });
  EXPECT_NE(e.find("cannot merge m1 with m3"), std::string::npos) << e;
  EXPECT_NE(e.find("'model.embed_tokens.weight' is a pre-layer weight in m1 but a post-layer weight in m3"),
            std::string::npos) << e;
}

TEST(ArchitectureTest, NameAndAliasTogetherIsAnError) {
  TinyModel m;
  m.tensor("embeddings.word_embeddings.weight", {8, 4})
      .tensor("embeddings.LayerNorm.weight")
      .tensor("embeddings.LayerNorm.gamma");
  m.layers("encoder.layer.", 1, {"w.weight"});
  m.config({{"architectures", {"BertModel"}}});
  std::string e = error_of([&] { m.arch(); });
  EXPECT_NE(e.find("'embeddings.LayerNorm.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("'embeddings.LayerNorm.gamma'"), std::string::npos) << e;
}

TEST(ArchitectureTest, InstantiateAndSplitRoundTrip) {
  auto ck = Checkpoint::open(fs::path(ALLOY_SHARED_DIR) / "stories260K" / "base");
  Architecture a = architecture_of(*ck);
  for (const auto& w : a.layer_weights) {
    for (int l : {0, 4, 17}) {
      std::string name = instantiate(w.name, l);
      EXPECT_EQ(name.find("${"), std::string::npos);
      auto split = split_layer_name(a, name);
      ASSERT_TRUE(split) << name;
      EXPECT_EQ(split->first, w.name);
      EXPECT_EQ(split->second, l);
      EXPECT_EQ(find_weight(a, name), &w);
    }
    EXPECT_EQ(find_weight(a, w.name), &w);
  }
  EXPECT_EQ(instantiate("a.${layer_index}.b.${layer_index}", 12), "a.12.b.12");
  EXPECT_EQ(instantiate("no.placeholder", 3), "no.placeholder");
  EXPECT_FALSE(split_layer_name(a, "model.norm.weight"));
  EXPECT_FALSE(split_layer_name(a, "model.layers.1.nonexistent.weight"));
  EXPECT_FALSE(split_layer_name(a, "model.layers.01.mlp.up_proj.weight"));
  EXPECT_FALSE(split_layer_name(a, "model.layers.x.mlp.up_proj.weight"));
  EXPECT_FALSE(split_layer_name(a, "model.layers.3"));
  EXPECT_EQ(find_weight(a, "model.layers.3.nonexistent"), nullptr);
  EXPECT_EQ(find_weight(a, "nonexistent"), nullptr);
  EXPECT_EQ(find_weight(a, "model.norm.weight"), &a.post_weights[0]);
}

}  // namespace
}  // namespace alloy
