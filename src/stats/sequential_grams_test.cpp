// RegMean++'s statistics against a float64 recomputation written here: for each block in turn, the
// Gram matrices of model i come from a hand-built float64 model whose embedding and lower blocks
// are the merge so far and whose other tensors are model i's, and the block is then merged (by a
// RegMean solve in float64, Gauss-Jordan, and a plain average of norms and embeddings) before the
// next block's statistics are taken. Also: the first block's Gram matrices differ from plain
// RegMean's only through the merged embedding, so with identical embeddings they are equal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "model/decoder.h"
#include "model/model_config.h"
#include "model/encoder_test_models.h"
#include "model/test_models.h"
#include "stats/model_statistics.h"
#include "stats/sequential_grams.h"
#include "stats/stats_test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using stats_test::random_chunks;
using stats_test::solve;

// The test's merge of one tensor: with Gram matrices (one per model, [in, in]) W = (Σ G_i)⁻¹ Σ G_i W_iᵀ
// transposed; without, the plain average.
std::vector<double> merge_tensor(const std::vector<const std::vector<float>*>& w, const Shape& shape,
                                 const std::vector<std::vector<double>>& grams) {
  const size_t n = static_cast<size_t>(numel(shape));
  std::vector<double> out(n, 0.0);
  if (grams.empty()) {
    for (const auto* x : w)
      for (size_t k = 0; k < n; ++k) out[k] += (*x)[k] / static_cast<double>(w.size());
    return out;
  }
  const int64_t rows = shape[0], in = shape[1];
  std::vector<double> a(static_cast<size_t>(in * in), 0.0), b(static_cast<size_t>(in * rows), 0.0);
  for (size_t i = 0; i < w.size(); ++i)
    for (int64_t p = 0; p < in; ++p)
      for (int64_t q = 0; q < in; ++q) {
        const double g = grams[i][p * in + q];
        a[p * in + q] += g;
        for (int64_t r = 0; r < rows; ++r) b[p * rows + r] += g * (*w[i])[r * in + q];
      }
  const std::vector<double> x = solve(a, b, in, rows);  // [in, rows]
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < in; ++p) out[r * in + p] = x[p * rows + r];
  return out;
}

int stage_of(const std::string& name, int64_t layers) {
  if (name == "model.embed_tokens.weight") return 0;
  for (int64_t l = 0; l < layers; ++l)
    if (name.starts_with(layer_prefix(l))) return static_cast<int>(l + 1);
  return static_cast<int>(layers + 1);
}

TEST(SequentialGrams, EqualTheBlockByBlockRecomputationInFloat64) {
  const ModelConfig config = decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
  const std::vector<MemoryWeights> models = {test_models::random_weights(config, 11),
                                             test_models::random_weights(config, 12),
                                             test_models::random_weights(config, 13)};
  std::vector<SequentialInput> inputs;
  for (size_t i = 0; i < models.size(); ++i)
    inputs.push_back({&models[i], random_chunks(config.vocab_size, 2, 24, 100 + i)});
  const std::vector<ExpectedTensor> tensors = decoder_tensors(config);

  // Under test: the gathering, with the test's merge as its stage merge.
  std::vector<std::string> stage_order;
  const MergeStage stage = [&](const std::vector<std::string>& names, const std::vector<Statistics>& grams,
                               MemoryWeights& merged) {
    for (const std::string& name : names) {
      stage_order.push_back(name);
      std::vector<const std::vector<float>*> w;
      std::vector<std::vector<double>> g;
      for (size_t i = 0; i < models.size(); ++i) {
        w.push_back(&models[i].tensors().at(name).values);
        auto it = grams[i].find("gram." + name);
        if (it != grams[i].end()) g.emplace_back(it->second.values.begin(), it->second.values.end());
      }
      const Shape shape = models[0].shape(name);
      const std::vector<double> x = merge_tensor(w, shape, g);
      merged.set(name, shape, std::vector<float>(x.begin(), x.end()));
    }
  };
  MemoryWeights merged;
  const std::vector<Statistics> got = sequential_gram_statistics(config, inputs, stage, merged);

  // Reference: the same steps in float64 with hybrid models built here.
  std::map<std::string, std::vector<double>> ref_merged;
  std::vector<std::map<std::string, std::vector<double>>> ref_grams(models.size());
  for (int s = 0; s <= config.num_layers + 1; ++s) {
    std::set<std::string> names;
    for (const auto& t : tensors)
      if (stage_of(t.name, config.num_layers) == s) names.insert(t.name);
    if (s > 0)
      for (size_t i = 0; i < models.size(); ++i) {
        MemoryWeights hybrid = models[i];
        for (const auto& [name, x] : ref_merged)
          hybrid.set(name, models[i].shape(name), std::vector<float>(x.begin(), x.end()));
        const DecoderLM<double> model(config, hybrid);
        Taps<double> taps;
        taps.linear_input = [&](const std::string& w, std::span<const double> x, int64_t rows, int64_t cols) {
          if (!names.count(w)) return;
          auto& g = ref_grams[i]["gram." + w];
          g.resize(static_cast<size_t>(cols * cols), 0.0);
          for (int64_t a = 0; a < cols; ++a)
            for (int64_t b = 0; b < cols; ++b)
              for (int64_t r = 0; r < rows; ++r) g[a * cols + b] += x[r * cols + a] * x[r * cols + b];
        };
        for (const TokenBatch& c : inputs[i].chunks) model.loss(c, taps);
      }
    for (const std::string& name : names) {
      std::vector<const std::vector<float>*> w;
      std::vector<std::vector<double>> g;
      for (size_t i = 0; i < models.size(); ++i) {
        w.push_back(&models[i].tensors().at(name).values);
        if (ref_grams[i].count("gram." + name)) g.push_back(ref_grams[i]["gram." + name]);
      }
      ref_merged[name] = merge_tensor(w, models[0].shape(name), g);
    }
  }

  EXPECT_EQ(stage_order.size(), tensors.size());
  EXPECT_EQ(stage_order.front(), "model.embed_tokens.weight");
  EXPECT_EQ(stage_order.back(), "lm_head.weight");
  for (size_t i = 0; i < models.size(); ++i) {
    ASSERT_EQ(got[i].size(), ref_grams[i].size());
    EXPECT_EQ(got[i].size(), 2u * 7u + 1u);  // 7 linear layers per block and lm_head
    for (const auto& [name, g] : ref_grams[i]) {
      const StatTensor& t = got[i].at(name);
      double largest = 0;
      for (double v : g) largest = std::max(largest, std::fabs(v));
      for (size_t k = 0; k < g.size(); ++k) ASSERT_NEAR(t.values[k], g[k], 1e-4 * largest) << name << "[" << k << "]";
    }
  }
  for (const auto& [name, x] : ref_merged) {
    const std::vector<float>& m = merged.tensors().at(name).values;
    double largest = 0;
    for (double v : x) largest = std::max(largest, std::fabs(v));
    for (size_t k = 0; k < x.size(); ++k) ASSERT_NEAR(m[k], x[k], 1e-3 * largest) << name << "[" << k << "]";
  }
}

TEST(SequentialGrams, FirstBlockMatchesPlainGramsWhenEmbeddingsAreEqual) {
  const ModelConfig config = decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
  MemoryWeights a = test_models::random_weights(config, 21), b = test_models::random_weights(config, 22);
  b.set("model.embed_tokens.weight", a.shape("model.embed_tokens.weight"),
        a.tensors().at("model.embed_tokens.weight").values);
  const std::vector<SequentialInput> inputs = {{&a, random_chunks(config.vocab_size, 2, 9, 5)},
                                               {&b, random_chunks(config.vocab_size, 2, 9, 6)}};
  const MergeStage average = [&](const std::vector<std::string>& names, const std::vector<Statistics>&,
                                 MemoryWeights& merged) {
    for (const std::string& n : names) {
      std::vector<float> x = a.tensors().at(n).values;
      const std::vector<float>& y = b.tensors().at(n).values;
      for (size_t k = 0; k < x.size(); ++k) x[k] = 0.5f * (x[k] + y[k]);
      merged.set(n, a.shape(n), std::move(x));
    }
  };
  MemoryWeights merged;
  const std::vector<Statistics> got = sequential_gram_statistics(config, inputs, average, merged);
  const Statistics plain = gram_statistics(DecoderLM<float>(config, b), inputs[1].chunks);
  const std::string q0 = "gram." + layer_prefix(0) + "self_attn.q_proj.weight";
  const std::string q1 = "gram." + layer_prefix(1) + "self_attn.q_proj.weight";
  for (size_t k = 0; k < plain.at(q0).values.size(); ++k)
    EXPECT_FLOAT_EQ(got[1].at(q0).values[k], plain.at(q0).values[k]) << k;
  double diff = 0;  // block 1 sees the averaged block 0, not b's own
  for (size_t k = 0; k < plain.at(q1).values.size(); ++k)
    diff = std::max(diff, double(std::fabs(got[1].at(q1).values[k] - plain.at(q1).values[k])));
  EXPECT_GT(diff, 1e-3);
}

// Encoders on probe pairs: layer l's Gram matrices of model i equal XᵀX over the real tokens of the
// hidden state entering layer l, recomputed here in float64 with the embeddings and layers below l
// averaged (the test's merge) and layer l and above model i's own.
TEST(SequentialGrams, EncoderLayersSeeTheAveragedLayersBelow) {
  const EncoderConfig config = encoder_test_models::read_config(encoder_test_models::tiny_config("bert"), "");
  const MemoryWeights a = encoder_test_models::random_weights(config, 31),
                      b = encoder_test_models::random_weights(config, 32);
  auto probe = [&](uint64_t seed) {
    const auto seqs = encoder_test_models::random_sequences(config, 6, 6, seed);
    return pair_probe_batches(config, {seqs.begin(), seqs.begin() + 3}, {seqs.begin() + 3, seqs.end()}, 3, 0);
  };
  const std::vector<SequentialPairInput> inputs = {{&a, probe(7)}, {&b, probe(8)}};
  MemoryWeights average_of_all;
  for (const auto& [n, t] : a.tensors()) {
    std::vector<float> x = t.values;
    const std::vector<float>& y = b.tensors().at(n).values;
    for (size_t k = 0; k < x.size(); ++k) x[k] = 0.5f * (x[k] + y[k]);
    average_of_all.set(n, t.shape, std::move(x));
  }
  const MergeStage average = [&](const std::vector<std::string>& names, const std::vector<Statistics>&,
                                 MemoryWeights& merged) {
    for (const std::string& n : names) merged.set(n, a.shape(n), average_of_all.tensors().at(n).values);
  };
  MemoryWeights merged;
  const std::vector<Statistics> got = sequential_pair_gram_statistics(config, inputs, average, merged);
  EXPECT_EQ(merged.tensors().size(), encoder_tensors(config).size());

  const int64_t h = config.hidden_size;
  for (size_t i = 0; i < 2; ++i)
    for (int64_t layer = 0; layer < config.num_layers; ++layer) {
      SCOPED_TRACE(cat("model ", i, ", layer ", layer));
      const MemoryWeights& own = i == 0 ? a : b;
      MemoryWeights mixed;
      for (const auto& [n, t] : own.tensors()) {
        bool below = n.starts_with("embeddings.");
        for (int64_t l = 0; l < layer; ++l) below |= n.starts_with(encoder_layer_prefix(config, l));
        mixed.set(n, t.shape, below ? average_of_all.tensors().at(n).values : t.values);
      }
      std::vector<double> want(static_cast<size_t>(h * h), 0.0);
      const EncoderBatch* batch = nullptr;
      Taps<double> taps;
      taps.hidden = [&](int64_t l, std::span<const double> x, int64_t rows, int64_t cols) {
        if (l != layer - 1) return;
        for (int64_t r = 0; r < rows; ++r)
          if (batch->mask[static_cast<size_t>(r)])
            for (int64_t p = 0; p < cols; ++p)
              for (int64_t q = 0; q < cols; ++q) want[p * h + q] += x[r * cols + p] * x[r * cols + q];
      };
      for (const EncoderBatch& bt : inputs[i].probe.batches) {
        batch = &bt;
        Encoder<double>(config, mixed).hidden_states(bt, taps);
      }
      const std::vector<float>& g =
          got[i].at(cat(kGramPrefix, encoder_layer_prefix(config, layer), "attention.self.key.weight")).values;
      double largest = 0;
      for (double v : want) largest = std::max(largest, std::abs(v));
      for (size_t k = 0; k < g.size(); ++k) EXPECT_NEAR(g[k], want[k], 1e-5 * largest) << k;
    }
}

}  // namespace
}  // namespace alloy
