// The encoder's forward against a direct float64 recomputation written out here (embeddings and
// LayerNorm, masked attention, FFN, the two LayerNorms), RoBERTa's position ids against
// hand-worked ones, padding invariance of embeddings, and the taps.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/encoder_test_models.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Matrix = std::vector<std::vector<double>>;

struct Reference {
  const MemoryWeights& w;
  std::string p;
  const std::vector<float>& get(const std::string& name) const { return w.tensors().at(p + name).values; }

  std::vector<double> layer_norm(const std::vector<double>& x, const std::string& name, double eps) const {
    const auto& g = get(name + ".weight");
    const auto& b = get(name + ".bias");
    const double n = static_cast<double>(x.size());
    double mean = 0, var = 0;
    for (double v : x) mean += v / n;
    for (double v : x) var += (v - mean) * (v - mean) / n;
    std::vector<double> y(x.size());
    for (size_t j = 0; j < x.size(); ++j) y[j] = (x[j] - mean) / std::sqrt(var + eps) * g[j] + b[j];
    return y;
  }

  std::vector<double> dense(const std::vector<double>& x, const std::string& name) const {
    const auto& wt = get(name + ".weight");
    const auto& b = get(name + ".bias");
    std::vector<double> y(b.begin(), b.end());
    for (size_t o = 0; o < y.size(); ++o)
      for (size_t i = 0; i < x.size(); ++i) y[o] += double(wt[o * x.size() + i]) * x[i];
    return y;
  }

  // One sequence of a one-layer model; `valid` says which tokens attention may read.
  Matrix forward(const EncoderConfig& c, const std::vector<int32_t>& tokens, const std::vector<int32_t>& types,
                 const std::vector<int32_t>& positions, const std::vector<bool>& valid) const {
    const size_t T = tokens.size(), d = c.hidden_size, H = c.num_heads, hd = c.head_dim;
    Matrix x(T);
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> e(d);
      for (size_t j = 0; j < d; ++j)
        e[j] = double(get("embeddings.word_embeddings.weight")[tokens[t] * d + j]) +
               get("embeddings.position_embeddings.weight")[positions[t] * d + j] +
               get("embeddings.token_type_embeddings.weight")[types[t] * d + j];
      x[t] = layer_norm(e, "embeddings.LayerNorm", c.layer_norm_eps);
    }
    const std::string l = "encoder.layer.0.";
    Matrix q(T), k(T), v(T), out(T);
    for (size_t t = 0; t < T; ++t) {
      q[t] = dense(x[t], l + "attention.self.query");
      k[t] = dense(x[t], l + "attention.self.key");
      v[t] = dense(x[t], l + "attention.self.value");
    }
    for (size_t i = 0; i < T; ++i) {
      std::vector<double> ctx(d, 0.0);
      for (size_t h = 0; h < H; ++h) {
        std::vector<double> weight(T, 0.0);
        double total = 0;
        for (size_t j = 0; j < T; ++j) {
          if (!valid[j]) continue;
          double s = 0;
          for (size_t e = 0; e < hd; ++e) s += q[i][h * hd + e] * k[j][h * hd + e];
          weight[j] = std::exp(s / std::sqrt(double(hd)));
          total += weight[j];
        }
        for (size_t j = 0; j < T; ++j)
          for (size_t e = 0; e < hd; ++e) ctx[h * hd + e] += weight[j] / total * v[j][h * hd + e];
      }
      std::vector<double> a = dense(ctx, l + "attention.output.dense");
      for (size_t j = 0; j < d; ++j) a[j] += x[i][j];
      const std::vector<double> h1 = layer_norm(a, l + "attention.output.LayerNorm", c.layer_norm_eps);
      std::vector<double> u = dense(h1, l + "intermediate.dense");
      for (double& z : u) z = 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
      std::vector<double> o = dense(u, l + "output.dense");
      for (size_t j = 0; j < d; ++j) o[j] += h1[j];
      out[i] = layer_norm(o, l + "output.LayerNorm", c.layer_norm_eps);
    }
    return out;
  }
};

EncoderConfig one_layer(const std::string& type, const std::string& prefix) {
  nlohmann::json json = encoder_test_models::tiny_config(type);
  json["num_hidden_layers"] = 1;
  return encoder_test_models::read_config(json, prefix);
}

TEST(EncoderForward, OneLayerBertMatchesAPlainFloat64Recomputation) {
  const EncoderConfig c = one_layer("bert", "bert.");
  const MemoryWeights weights = encoder_test_models::random_weights(c, 31);
  EncoderBatch batch = pad_sequences({{2, 5, 7, 3}, {4, 9}}, c.pad_token_id);
  batch.token_types = {0, 0, 1, 1, 0, 1, 0, 0};
  const std::vector<double> hidden = Encoder<double>(c, weights).hidden_states(batch);
  const Reference ref{weights, "bert."};
  for (int64_t s = 0; s < 2; ++s) {
    std::vector<int32_t> tokens(batch.tokens.begin() + s * 4, batch.tokens.begin() + s * 4 + 4);
    std::vector<int32_t> types(batch.token_types.begin() + s * 4, batch.token_types.begin() + s * 4 + 4);
    std::vector<bool> valid(batch.mask.begin() + s * 4, batch.mask.begin() + s * 4 + 4);
    const Matrix expected = ref.forward(c, tokens, types, {0, 1, 2, 3}, valid);
    for (int64_t t = 0; t < 4; ++t) {
      if (!valid[t]) continue;
      for (int64_t j = 0; j < c.hidden_size; ++j)
        EXPECT_NEAR(hidden[(s * 4 + t) * c.hidden_size + j], expected[t][j], 1e-12) << s << "," << t << "," << j;
    }
  }
  EXPECT_EQ(batch.mask, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0, 0}));
}

TEST(EncoderForward, RobertaPositionsCountNonPadTokensFromPadPlusOne) {
  const EncoderConfig c = one_layer("roberta", "roberta.");
  ASSERT_EQ(c.pad_token_id, 1);
  EncoderBatch batch = pad_sequences({{0, 5, 6, 2}, {0, 7}}, c.pad_token_id);
  // Hugging Face: cumsum(ids != pad) * (ids != pad) + pad.
  EXPECT_EQ(encoder_positions(c, batch), (std::vector<int32_t>{2, 3, 4, 5, 2, 3, 1, 1}));
  const EncoderConfig bert = one_layer("bert", "bert.");
  EXPECT_EQ(encoder_positions(bert, batch), (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));

  const MemoryWeights weights = encoder_test_models::random_weights(c, 8);
  const std::vector<double> hidden = Encoder<double>(c, weights).hidden_states(batch);
  const Matrix expected =
      Reference{weights, "roberta."}.forward(c, {0, 7}, {0, 0}, {2, 3}, {true, true});
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t j = 0; j < c.hidden_size; ++j)
      EXPECT_NEAR(hidden[(4 + t) * c.hidden_size + j], expected[t][j], 1e-12);
}

TEST(EncoderForward, PaddingDoesNotChangeASequencesEmbedding) {
  for (const char* type : {"bert", "roberta"}) {
    SCOPED_TRACE(type);
    const EncoderConfig c = encoder_test_models::read_config(encoder_test_models::tiny_config(type), "");
    const MemoryWeights weights = encoder_test_models::random_weights(c, 12);
    const Encoder<double> model(c, weights);
    const std::vector<int32_t> text{3, 8, 4};
    for (Pooling pooling : {Pooling::kMean, Pooling::kCls}) {
      const PoolingOptions o{pooling, true};
      const std::vector<double> alone = model.embed(pad_sequences({text}, c.pad_token_id), o);
      const std::vector<double> padded =
          model.embed(pad_sequences({{5, 6, 7, 9, 10, 11, 12}, text}, c.pad_token_id), o);
      double norm = 0;
      for (int64_t j = 0; j < c.hidden_size; ++j) {
        EXPECT_NEAR(padded[c.hidden_size + j], alone[j], 1e-12);
        norm += alone[j] * alone[j];
      }
      EXPECT_NEAR(norm, 1.0, 1e-12);
    }
  }
}

TEST(EncoderForward, TapsSeeLinearInputsAndHiddenStates) {
  const EncoderConfig c = encoder_test_models::read_config(encoder_test_models::tiny_config("bert"), "bert.");
  const MemoryWeights weights = encoder_test_models::random_weights(c, 4);
  const EncoderBatch batch = pad_sequences({{2, 3, 4}, {5, 6}}, c.pad_token_id);
  std::map<std::string, std::vector<double>> inputs;
  std::map<int64_t, std::vector<double>> hidden;
  Taps<double> taps;
  taps.linear_input = [&](const std::string& name, std::span<const double> x, int64_t rows, int64_t cols) {
    EXPECT_EQ(rows, 6);
    EXPECT_EQ(static_cast<int64_t>(x.size()), rows * cols);
    inputs[name].assign(x.begin(), x.end());
  };
  taps.hidden = [&](int64_t layer, std::span<const double> x, int64_t, int64_t) {
    hidden[layer].assign(x.begin(), x.end());
  };
  const std::vector<double> out = Encoder<double>(c, weights).hidden_states(batch, taps);
  EXPECT_EQ(inputs.size(), 2u * 6u);  // q, k, v, attention output, intermediate, output per layer
  EXPECT_EQ(hidden.size(), 3u);       // embeddings (-1), layers 0 and 1
  EXPECT_EQ(hidden.at(1), out);
  // The first layer's q/k/v input is the embeddings' LayerNorm output.
  EXPECT_EQ(inputs.at("bert.encoder.layer.0.attention.self.query.weight"), hidden.at(-1));
  EXPECT_EQ(inputs.at("bert.encoder.layer.1.attention.self.value.weight"), hidden.at(0));
}

}  // namespace
}  // namespace alloy
