#include "model/encoder.h"

#include <cmath>

#include "model/decoder_block.h"
#include "model/encoder_ops.h"
#include "model/ops.h"
#include "util/error.h"

namespace alloy {

EncoderBatch pad_sequences(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id) {
  EncoderBatch b;
  b.batch = static_cast<int64_t>(sequences.size());
  for (const auto& s : sequences) b.seq_len = std::max<int64_t>(b.seq_len, static_cast<int64_t>(s.size()));
  b.tokens.assign(b.batch * b.seq_len, pad_id);
  b.mask.assign(b.batch * b.seq_len, 0);
  for (int64_t i = 0; i < b.batch; ++i) {
    std::copy(sequences[i].begin(), sequences[i].end(), b.tokens.begin() + i * b.seq_len);
    std::fill_n(b.mask.begin() + i * b.seq_len, sequences[i].size(), uint8_t{1});
  }
  return b;
}

std::vector<int32_t> encoder_positions(const EncoderConfig& c, const EncoderBatch& batch) {
  std::vector<int32_t> positions(batch.tokens.size());
  for (int64_t s = 0; s < batch.batch; ++s) {
    int32_t counted = 0;
    for (int64_t t = 0; t < batch.seq_len; ++t) {
      const int64_t i = s * batch.seq_len + t;
      if (c.family == EncoderFamily::kBert) {
        positions[i] = static_cast<int32_t>(t);
      } else if (batch.tokens[i] == c.pad_token_id) {
        positions[i] = c.pad_token_id;
      } else {
        positions[i] = c.pad_token_id + 1 + counted++;
      }
    }
  }
  return positions;
}

template <class S>
Encoder<S>::Encoder(EncoderConfig config, const WeightSource& weights) : config_(std::move(config)), weights_(weights) {
  require_tensors(weights_, encoder_tensors(config_), config_.architecture);
}

namespace {

template <class S>
struct LinearParams {
  Param<S> w, b;
};

template <class S>
struct NormParams {
  Param<S> w, b;
};

template <class S>
struct LayerWeights {
  LinearParams<S> q, k, v, o, up, down;
  NormParams<S> norm1, norm2;
  std::string prefix;
};

template <class S>
LayerWeights<S> load_layer(const EncoderConfig& c, const WeightSource& weights, int64_t layer) {
  LayerWeights<S> w;
  w.prefix = encoder_layer_prefix(c, layer);
  auto linear = [&](const std::string& name) {
    return LinearParams<S>{load_param<S>(weights, w.prefix + name + ".weight"),
                           load_param<S>(weights, w.prefix + name + ".bias")};
  };
  auto norm = [&](const std::string& name) {
    return NormParams<S>{load_param<S>(weights, w.prefix + name + ".weight"),
                         load_param<S>(weights, w.prefix + name + ".bias")};
  };
  w.q = linear("attention.self.query");
  w.k = linear("attention.self.key");
  w.v = linear("attention.self.value");
  w.o = linear("attention.output.dense");
  w.norm1 = norm("attention.output.LayerNorm");
  w.up = linear("intermediate.dense");
  w.down = linear("output.dense");
  w.norm2 = norm("output.LayerNorm");
  return w;
}

// What a layer's backward needs: its input, the attention's tensors, the pre-norm sums and
// their moments, the FFN's pre-activation and activation.
template <class S>
struct LayerCache {
  std::vector<S> x, q, k, v, probs, ctx, s1, mean1, inv1, h1, u, g, s2, mean2, inv2;
};

struct EmbeddingCache {
  std::vector<int32_t> positions, types;
};

template <class S>
class Run {
 public:
  Run(const EncoderConfig& c, const WeightSource& weights, const EncoderBatch& batch, bool keep, const Taps<S>& taps)
      : c_(c), weights_(weights), batch_(batch), keep_(keep), taps_(taps), n_(batch.batch * batch.seq_len) {
    validate();
  }

  // The last layer's output [n, d].
  std::vector<S> forward() {
    std::vector<S> x = embed_forward();
    if (taps_.hidden) taps_.hidden(-1, x, n_, c_.hidden_size);
    layers_.resize(keep_ ? c_.num_layers : 1);
    for (int64_t l = 0; l < c_.num_layers; ++l) {
      const LayerWeights<S> w = load_layer<S>(c_, weights_, l);
      layer_forward(w, x, layers_[keep_ ? l : 0]);
      if (taps_.hidden) taps_.hidden(l, x, n_, c_.hidden_size);
    }
    return x;
  }

  // dx: d(loss)/d(last layer's output) in; every weight's gradient to the sink.
  void backward(std::vector<S> dx, const GradSink<S>& sink) {
    for (int64_t l = c_.num_layers - 1; l >= 0; --l) {
      const LayerWeights<S> w = load_layer<S>(c_, weights_, l);
      layer_backward(w, layers_[l], dx, sink);
      layers_[l] = {};
    }
    embed_backward(dx, sink);
  }

 private:
  void validate() const {
    const EncoderBatch& b = batch_;
    if (b.batch <= 0 || b.seq_len <= 0) fail("encoder batch: empty (", b.batch, " x ", b.seq_len, ")");
    if (static_cast<int64_t>(b.tokens.size()) != n_ || static_cast<int64_t>(b.mask.size()) != n_ ||
        (!b.token_types.empty() && static_cast<int64_t>(b.token_types.size()) != n_))
      fail("encoder batch: ", b.tokens.size(), " tokens, ", b.mask.size(), " mask values and ",
           b.token_types.size(), " token types for ", b.batch, " x ", b.seq_len, " slots");
    for (int32_t t : b.tokens)
      if (t < 0 || t >= c_.vocab_size) fail("encoder batch: token ", t, " is outside the vocabulary (", c_.vocab_size, ")");
    for (int32_t t : b.token_types)
      if (t < 0 || t >= c_.type_vocab_size)
        fail("encoder batch: token type ", t, " is outside type_vocab_size ", c_.type_vocab_size);
  }

  std::vector<S> embed_forward() {
    const int64_t d = c_.hidden_size;
    emb_.positions = encoder_positions(c_, batch_);
    for (int32_t p : emb_.positions)
      if (p >= c_.max_positions)
        fail("encoder batch: a sequence of ", batch_.seq_len, " tokens needs position ", p,
             ", beyond max_position_embeddings ", c_.max_positions, "; use shorter texts");
    emb_.types = batch_.token_types.empty() ? std::vector<int32_t>(n_, 0) : batch_.token_types;
    const std::string e = c_.prefix + "embeddings.";
    const Param<S> word = load_param<S>(weights_, e + "word_embeddings.weight");
    const Param<S> pos = load_param<S>(weights_, e + "position_embeddings.weight");
    const Param<S> type = load_param<S>(weights_, e + "token_type_embeddings.weight");
    emb_x_.resize(n_ * d);
    for (int64_t i = 0; i < n_; ++i) {
      const S* wr = word.data + batch_.tokens[i] * d;
      const S* pr = pos.data + emb_.positions[i] * d;
      const S* tr = type.data + emb_.types[i] * d;
      for (int64_t j = 0; j < d; ++j) emb_x_[i * d + j] = wr[j] + pr[j] + tr[j];
    }
    const Param<S> gain = load_param<S>(weights_, e + "LayerNorm.weight");
    const Param<S> bias = load_param<S>(weights_, e + "LayerNorm.bias");
    std::vector<S> y(n_ * d);
    emb_mean_.resize(n_);
    emb_inv_.resize(n_);
    ops::layernorm(emb_x_.data(), gain.data, bias.data, n_, d, c_.layer_norm_eps, y.data(), emb_mean_.data(),
                   emb_inv_.data());
    if (!keep_) emb_x_ = {};
    return y;
  }

  void embed_backward(const std::vector<S>& dy, const GradSink<S>& sink) {
    const int64_t d = c_.hidden_size;
    const std::string e = c_.prefix + "embeddings.";
    const Param<S> gain = load_param<S>(weights_, e + "LayerNorm.weight");
    std::vector<S> dx(n_ * d), dgain(d), dbias(d);
    ops::layernorm_backward(emb_x_.data(), gain.data, emb_mean_.data(), emb_inv_.data(), dy.data(), n_, d, dx.data(),
                            false, dgain.data(), dbias.data());
    sink(e + "LayerNorm.weight", dgain);
    sink(e + "LayerNorm.bias", dbias);
    auto scatter = [&](const std::string& name, int64_t rows, auto index) {
      std::vector<S> g(rows * d, S(0));
      for (int64_t i = 0; i < n_; ++i) {
        S* row = g.data() + static_cast<int64_t>(index(i)) * d;
        for (int64_t j = 0; j < d; ++j) row[j] += dx[i * d + j];
      }
      sink(e + name, g);
    };
    scatter("word_embeddings.weight", c_.vocab_size, [&](int64_t i) { return batch_.tokens[i]; });
    scatter("position_embeddings.weight", c_.max_positions, [&](int64_t i) { return emb_.positions[i]; });
    scatter("token_type_embeddings.weight", c_.type_vocab_size, [&](int64_t i) { return emb_.types[i]; });
  }

  void tap(const LayerWeights<S>& w, const std::string& name, const std::vector<S>& x, int64_t cols) const {
    if (taps_.linear_input) taps_.linear_input(w.prefix + name + ".weight", x, n_, cols);
  }

  void linear(const LinearParams<S>& p, const std::vector<S>& x, int64_t in, int64_t out, std::vector<S>& y) const {
    y.resize(n_ * out);
    ops::linear(x.data(), p.w.data, p.b.data, n_, in, out, y.data());
  }

  void layer_forward(const LayerWeights<S>& w, std::vector<S>& x, LayerCache<S>& cache) const {
    const int64_t d = c_.hidden_size, f = c_.intermediate_size;
    LayerCache<S>& k = cache;
    tap(w, "attention.self.query", x, d);
    tap(w, "attention.self.key", x, d);
    tap(w, "attention.self.value", x, d);
    linear(w.q, x, d, d, k.q);
    linear(w.k, x, d, d, k.k);
    linear(w.v, x, d, d, k.v);
    const ops::MaskedAttentionShape shape{batch_.batch, batch_.seq_len, c_.num_heads, c_.head_dim};
    k.probs.resize(batch_.batch * c_.num_heads * batch_.seq_len * batch_.seq_len);
    k.ctx.resize(n_ * d);
    ops::masked_attention(shape, k.q.data(), k.k.data(), k.v.data(), batch_.mask.data(),
                          1.0 / std::sqrt(static_cast<double>(c_.head_dim)), k.probs.data(), k.ctx.data());
    tap(w, "attention.output.dense", k.ctx, d);
    linear(w.o, k.ctx, d, d, k.s1);
    for (int64_t i = 0; i < n_ * d; ++i) k.s1[i] += x[i];
    k.h1.resize(n_ * d);
    k.mean1.resize(n_);
    k.inv1.resize(n_);
    ops::layernorm(k.s1.data(), w.norm1.w.data, w.norm1.b.data, n_, d, c_.layer_norm_eps, k.h1.data(),
                   k.mean1.data(), k.inv1.data());
    tap(w, "intermediate.dense", k.h1, d);
    linear(w.up, k.h1, d, f, k.u);
    k.g.resize(n_ * f);
    ops::gelu(c_.activation, k.u.data(), n_ * f, k.g.data());
    tap(w, "output.dense", k.g, f);
    linear(w.down, k.g, f, d, k.s2);
    for (int64_t i = 0; i < n_ * d; ++i) k.s2[i] += k.h1[i];
    k.mean2.resize(n_);
    k.inv2.resize(n_);
    if (keep_) k.x = x;
    ops::layernorm(k.s2.data(), w.norm2.w.data, w.norm2.b.data, n_, d, c_.layer_norm_eps, x.data(), k.mean2.data(),
                   k.inv2.data());
  }

  void layer_backward(const LayerWeights<S>& w, const LayerCache<S>& k, std::vector<S>& dx,
                      const GradSink<S>& sink) const {
    const int64_t d = c_.hidden_size, f = c_.intermediate_size;
    std::vector<S> gw, gb(std::max(d, f));
    auto linear_back = [&](const std::string& name, const LinearParams<S>& p, const std::vector<S>& in,
                           const std::vector<S>& dy, int64_t in_f, int64_t out_f, std::vector<S>& din, bool acc) {
      gw.resize(out_f * in_f);
      gb.resize(out_f);
      din.resize(n_ * in_f);
      ops::linear_backward(in.data(), p.w.data, dy.data(), n_, in_f, out_f, gw.data(), din.data(), acc, gb.data());
      sink(w.prefix + name + ".weight", gw);
      sink(w.prefix + name + ".bias", gb);
    };
    auto norm_back = [&](const std::string& name, const NormParams<S>& p, const std::vector<S>& in,
                         const std::vector<S>& mean, const std::vector<S>& inv, const std::vector<S>& dy,
                         std::vector<S>& din) {
      std::vector<S> dg(d), db(d);
      din.resize(n_ * d);
      ops::layernorm_backward(in.data(), p.w.data, mean.data(), inv.data(), dy.data(), n_, d, din.data(), false,
                              dg.data(), db.data());
      sink(w.prefix + name + ".weight", dg);
      sink(w.prefix + name + ".bias", db);
    };
    std::vector<S> ds2, dg, du, dh1, ds1, dctx, dq(n_ * d), dk(n_ * d), dv(n_ * d);
    norm_back("output.LayerNorm", w.norm2, k.s2, k.mean2, k.inv2, dx, ds2);
    linear_back("output.dense", w.down, k.g, ds2, f, d, dg, false);
    du.resize(n_ * f);
    ops::gelu_backward(c_.activation, k.u.data(), dg.data(), n_ * f, du.data());
    dh1 = ds2;  // the residual around the FFN
    linear_back("intermediate.dense", w.up, k.h1, du, d, f, dh1, true);
    norm_back("attention.output.LayerNorm", w.norm1, k.s1, k.mean1, k.inv1, dh1, ds1);
    linear_back("attention.output.dense", w.o, k.ctx, ds1, d, d, dctx, false);
    const ops::MaskedAttentionShape shape{batch_.batch, batch_.seq_len, c_.num_heads, c_.head_dim};
    ops::masked_attention_backward(shape, k.q.data(), k.k.data(), k.v.data(), k.probs.data(), dctx.data(),
                                   1.0 / std::sqrt(static_cast<double>(c_.head_dim)), dq.data(), dk.data(), dv.data());
    dx = ds1;  // the residual around attention
    linear_back("attention.self.query", w.q, k.x, dq, d, d, dx, true);
    linear_back("attention.self.key", w.k, k.x, dk, d, d, dx, true);
    linear_back("attention.self.value", w.v, k.x, dv, d, d, dx, true);
  }

  const EncoderConfig& c_;
  const WeightSource& weights_;
  const EncoderBatch& batch_;
  const bool keep_;
  const Taps<S>& taps_;
  const int64_t n_;
  EmbeddingCache emb_;
  std::vector<S> emb_x_, emb_mean_, emb_inv_;
  std::vector<LayerCache<S>> layers_;
};

template <class S>
std::vector<S> pool(const EncoderBatch& batch, const std::vector<S>& hidden, int64_t d, const PoolingOptions& o) {
  std::vector<S> out(batch.batch * d, S(0));
  for (int64_t s = 0; s < batch.batch; ++s) {
    S* row = out.data() + s * d;
    if (o.pooling == Pooling::kCls) {
      std::copy_n(hidden.data() + s * batch.seq_len * d, d, row);
    } else {
      std::vector<double> sum(d, 0.0);
      int64_t count = 0;
      for (int64_t t = 0; t < batch.seq_len; ++t) {
        if (!batch.mask[s * batch.seq_len + t]) continue;
        ++count;
        const S* h = hidden.data() + (s * batch.seq_len + t) * d;
        for (int64_t j = 0; j < d; ++j) sum[j] += h[j];
      }
      for (int64_t j = 0; j < d; ++j) row[j] = static_cast<S>(sum[j] / static_cast<double>(count));
    }
    if (o.normalize) {
      double sq = 0;
      for (int64_t j = 0; j < d; ++j) sq += double(row[j]) * row[j];
      const double inv = 1.0 / std::sqrt(sq);
      for (int64_t j = 0; j < d; ++j) row[j] = static_cast<S>(row[j] * inv);
    }
  }
  return out;
}

// d(loss)/d(hidden) from d(loss)/d(pooled).
template <class S>
std::vector<S> pool_backward(const EncoderBatch& batch, const std::vector<S>& hidden, int64_t d,
                             const PoolingOptions& o, std::span<const S> dpooled) {
  std::vector<S> dh(batch.batch * batch.seq_len * d, S(0));
  const std::vector<S> raw = pool(batch, hidden, d, PoolingOptions{o.pooling, false});
  for (int64_t s = 0; s < batch.batch; ++s) {
    std::vector<double> g(dpooled.begin() + s * d, dpooled.begin() + (s + 1) * d);
    if (o.normalize) {  // y = p / |p|: dp = (dy - y (y . dy)) / |p|
      const S* p = raw.data() + s * d;
      double sq = 0, dot = 0;
      for (int64_t j = 0; j < d; ++j) sq += double(p[j]) * p[j];
      const double norm = std::sqrt(sq);
      for (int64_t j = 0; j < d; ++j) dot += p[j] / norm * g[j];
      for (int64_t j = 0; j < d; ++j) g[j] = (g[j] - p[j] / norm * dot) / norm;
    }
    if (o.pooling == Pooling::kCls) {
      for (int64_t j = 0; j < d; ++j) dh[s * batch.seq_len * d + j] = static_cast<S>(g[j]);
      continue;
    }
    int64_t count = 0;
    for (int64_t t = 0; t < batch.seq_len; ++t) count += batch.mask[s * batch.seq_len + t] != 0;
    for (int64_t t = 0; t < batch.seq_len; ++t) {
      if (!batch.mask[s * batch.seq_len + t]) continue;
      S* row = dh.data() + (s * batch.seq_len + t) * d;
      for (int64_t j = 0; j < d; ++j) row[j] = static_cast<S>(g[j] / static_cast<double>(count));
    }
  }
  return dh;
}

}  // namespace

template <class S>
std::vector<S> Encoder<S>::hidden_states(const EncoderBatch& batch, const Taps<S>& taps) const {
  return Run<S>(config_, weights_, batch, false, taps).forward();
}

template <class S>
std::vector<S> Encoder<S>::embed(const EncoderBatch& batch, const PoolingOptions& pooling, const Taps<S>& taps) const {
  return pool(batch, hidden_states(batch, taps), config_.hidden_size, pooling);
}

template <class S>
std::vector<S> Encoder<S>::embed_and_gradient(const EncoderBatch& batch, const PoolingOptions& pooling,
                                              const LossGradient& loss_gradient, const GradSink<S>& sink,
                                              const Taps<S>& taps) const {
  Run<S> run(config_, weights_, batch, true, taps);
  const std::vector<S> hidden = run.forward();
  std::vector<S> embeddings = pool(batch, hidden, config_.hidden_size, pooling);
  const std::vector<S> grad = loss_gradient(embeddings);
  if (grad.size() != embeddings.size())
    fail("encoder: the loss gave ", grad.size(), " gradient values for ", embeddings.size(), " embedding values");
  run.backward(pool_backward(batch, hidden, config_.hidden_size, pooling, std::span<const S>(grad)), sink);
  return embeddings;
}

template class Encoder<float>;
template class Encoder<double>;

}  // namespace alloy
