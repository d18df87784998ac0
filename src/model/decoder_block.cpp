#include "model/decoder_block.h"

#include <cmath>
#include <type_traits>

#include "model/ops.h"

namespace alloy {

template <class S>
Param<S> load_param(const WeightSource& weights, const std::string& name) {
  Param<S> p;
  p.source = weights.get(name);
  if constexpr (std::is_same_v<S, float>) {
    p.data = p.source.values.data();
  } else {
    p.converted.assign(p.source.values.begin(), p.source.values.end());
    p.source.owned = {};
    p.source.values = {};
    p.data = p.converted.data();
  }
  return p;
}

template <class S>
BlockWeights<S> load_block(const ModelConfig& c, const WeightSource& weights, int64_t layer) {
  const std::string p = layer_prefix(layer);
  auto get = [&](const std::string& name) { return load_param<S>(weights, p + name); };
  BlockWeights<S> w;
  w.in_norm = get("input_layernorm.weight");
  w.q = get("self_attn.q_proj.weight");
  w.k = get("self_attn.k_proj.weight");
  w.v = get("self_attn.v_proj.weight");
  if (c.qkv_bias) {
    w.q_bias = get("self_attn.q_proj.bias");
    w.k_bias = get("self_attn.k_proj.bias");
    w.v_bias = get("self_attn.v_proj.bias");
  }
  if (c.qk_norm) {
    w.q_norm = get("self_attn.q_norm.weight");
    w.k_norm = get("self_attn.k_norm.weight");
  }
  w.o = get("self_attn.o_proj.weight");
  if (c.o_bias) w.o_bias = get("self_attn.o_proj.bias");
  w.post_norm = get("post_attention_layernorm.weight");
  w.gate = get("mlp.gate_proj.weight");
  w.up = get("mlp.up_proj.weight");
  w.down = get("mlp.down_proj.weight");
  return w;
}

namespace {

template <class S>
void tap(const Taps<S>& taps, const std::string& name, const std::vector<S>& x, int64_t rows) {
  if (taps.linear_input) taps.linear_input(name, x, rows, static_cast<int64_t>(x.size()) / rows);
}

ops::AttentionShape attention_shape(const ModelConfig& c, const BlockShape& s) {
  return {s.batch, s.seq_len, c.num_heads, c.num_kv_heads, c.head_dim, c.sliding_window};
}

}  // namespace

template <class S>
void block_forward(const ModelConfig& c, int64_t layer, const BlockWeights<S>& w, const BlockShape& shape,
                   const RopeTables<S>& rope, const Taps<S>& taps, std::vector<S>& x, BlockCache<S>& m) {
  const int64_t n = shape.rows(), d = c.hidden_size, f = c.intermediate_size;
  const int64_t qd = c.num_heads * c.head_dim, kd = c.num_kv_heads * c.head_dim;
  const std::string p = layer_prefix(layer);
  m.x = x;
  m.inv1.resize(n);
  m.h1.resize(n * d);
  ops::rmsnorm(x.data(), w.in_norm.data, n, d, c.rms_norm_eps, m.h1.data(), m.inv1.data());
  tap(taps, p + "self_attn.q_proj.weight", m.h1, n);
  tap(taps, p + "self_attn.k_proj.weight", m.h1, n);
  tap(taps, p + "self_attn.v_proj.weight", m.h1, n);

  m.q.resize(n * qd);
  m.k.resize(n * kd);
  m.v.resize(n * kd);
  ops::linear(m.h1.data(), w.v.data, w.v_bias.data, n, d, kd, m.v.data());
  if (c.qk_norm) {
    m.q_raw.resize(n * qd);
    m.k_raw.resize(n * kd);
    m.inv_q.resize(n * c.num_heads);
    m.inv_k.resize(n * c.num_kv_heads);
    ops::linear(m.h1.data(), w.q.data, w.q_bias.data, n, d, qd, m.q_raw.data());
    ops::linear(m.h1.data(), w.k.data, w.k_bias.data, n, d, kd, m.k_raw.data());
    ops::rmsnorm(m.q_raw.data(), w.q_norm.data, n * c.num_heads, c.head_dim, c.rms_norm_eps, m.q.data(),
                 m.inv_q.data());
    ops::rmsnorm(m.k_raw.data(), w.k_norm.data, n * c.num_kv_heads, c.head_dim, c.rms_norm_eps, m.k.data(),
                 m.inv_k.data());
  } else {
    ops::linear(m.h1.data(), w.q.data, w.q_bias.data, n, d, qd, m.q.data());
    ops::linear(m.h1.data(), w.k.data, w.k_bias.data, n, d, kd, m.k.data());
  }
  ops::rope(m.q.data(), n, shape.seq_len, c.num_heads, c.head_dim, rope.cos.data(), rope.sin.data(), false);
  ops::rope(m.k.data(), n, shape.seq_len, c.num_kv_heads, c.head_dim, rope.cos.data(), rope.sin.data(), false);

  m.probs.resize(shape.batch * c.num_heads * shape.seq_len * shape.seq_len);
  m.o.resize(n * qd);
  ops::attention(attention_shape(c, shape), m.q.data(), m.k.data(), m.v.data(), 1.0 / std::sqrt(double(c.head_dim)),
                 m.probs.data(), m.o.data());
  tap(taps, p + "self_attn.o_proj.weight", m.o, n);
  m.x2.resize(n * d);
  ops::linear(m.o.data(), w.o.data, w.o_bias.data, n, qd, d, m.x2.data());
  for (int64_t i = 0; i < n * d; ++i) m.x2[i] += x[i];

  m.inv2.resize(n);
  m.h2.resize(n * d);
  ops::rmsnorm(m.x2.data(), w.post_norm.data, n, d, c.rms_norm_eps, m.h2.data(), m.inv2.data());
  tap(taps, p + "mlp.gate_proj.weight", m.h2, n);
  tap(taps, p + "mlp.up_proj.weight", m.h2, n);
  m.g.resize(n * f);
  m.u.resize(n * f);
  m.a.resize(n * f);
  ops::linear(m.h2.data(), w.gate.data, static_cast<const S*>(nullptr), n, d, f, m.g.data());
  ops::linear(m.h2.data(), w.up.data, static_cast<const S*>(nullptr), n, d, f, m.u.data());
  ops::swiglu(m.g.data(), m.u.data(), n * f, m.a.data());
  tap(taps, p + "mlp.down_proj.weight", m.a, n);
  ops::linear(m.a.data(), w.down.data, static_cast<const S*>(nullptr), n, f, d, x.data());
  for (int64_t i = 0; i < n * d; ++i) x[i] += m.x2[i];
}

template <class S>
void block_backward(const ModelConfig& c, int64_t layer, const BlockWeights<S>& w, const BlockShape& shape,
                    const RopeTables<S>& rope, const BlockCache<S>& m, std::vector<S>& dx,
                    const GradSink<S>& sink) {
  const int64_t n = shape.rows(), d = c.hidden_size, f = c.intermediate_size;
  const int64_t qd = c.num_heads * c.head_dim, kd = c.num_kv_heads * c.head_dim;
  const std::string p = layer_prefix(layer);
  std::vector<S> grad;
  auto emit = [&](const std::string& name, const std::vector<S>& g) { sink(p + name, g); };

  // MLP: x_out = x2 + down(silu(gate(h2)) * up(h2)), h2 = norm(x2).
  std::vector<S> da(n * f), dg(n * f), du(n * f), dh(n * d);
  grad.resize(d * f);
  ops::linear_backward(m.a.data(), w.down.data, dx.data(), n, f, d, grad.data(), da.data(), false,
                       static_cast<S*>(nullptr));
  emit("mlp.down_proj.weight", grad);
  ops::swiglu_backward(m.g.data(), m.u.data(), da.data(), n * f, dg.data(), du.data());
  da = {};
  ops::linear_backward(m.h2.data(), w.gate.data, dg.data(), n, d, f, grad.data(), dh.data(), false,
                       static_cast<S*>(nullptr));
  emit("mlp.gate_proj.weight", grad);
  ops::linear_backward(m.h2.data(), w.up.data, du.data(), n, d, f, grad.data(), dh.data(), true,
                       static_cast<S*>(nullptr));
  emit("mlp.up_proj.weight", grad);
  dg = {};
  du = {};
  grad.resize(d);
  ops::rmsnorm_backward(m.x2.data(), w.post_norm.data, m.inv2.data(), dh.data(), n, d, dx.data(), true, grad.data());
  emit("post_attention_layernorm.weight", grad);

  // Attention: x2 = x + o_proj(attention(rope(q), rope(k), v)), q/k/v from h1 = norm(x).
  std::vector<S> dout(n * qd), bias_grad(d);
  grad.resize(d * qd);
  ops::linear_backward(m.o.data(), w.o.data, dx.data(), n, qd, d, grad.data(), dout.data(), false,
                       w.o_bias ? bias_grad.data() : nullptr);
  emit("self_attn.o_proj.weight", grad);
  if (w.o_bias) emit("self_attn.o_proj.bias", bias_grad);
  std::vector<S> dq(n * qd), dk(n * kd), dv(n * kd);
  ops::attention_backward(attention_shape(c, shape), m.q.data(), m.k.data(), m.v.data(), m.probs.data(),
                          dout.data(), 1.0 / std::sqrt(double(c.head_dim)), dq.data(), dk.data(), dv.data());
  dout = {};
  ops::rope(dq.data(), n, shape.seq_len, c.num_heads, c.head_dim, rope.cos.data(), rope.sin.data(), true);
  ops::rope(dk.data(), n, shape.seq_len, c.num_kv_heads, c.head_dim, rope.cos.data(), rope.sin.data(), true);
  if (c.qk_norm) {
    std::vector<S> raw(n * qd);
    grad.resize(c.head_dim);
    ops::rmsnorm_backward(m.q_raw.data(), w.q_norm.data, m.inv_q.data(), dq.data(), n * c.num_heads, c.head_dim,
                          raw.data(), false, grad.data());
    emit("self_attn.q_norm.weight", grad);
    dq.swap(raw);
    raw.resize(n * kd);
    ops::rmsnorm_backward(m.k_raw.data(), w.k_norm.data, m.inv_k.data(), dk.data(), n * c.num_kv_heads, c.head_dim,
                          raw.data(), false, grad.data());
    emit("self_attn.k_norm.weight", grad);
    dk.swap(raw);
  }
  struct Proj {
    const char* name;
    const Param<S>& weight;
    const Param<S>& bias;
    const std::vector<S>& dy;
    int64_t out;
  };
  const Proj projections[] = {{"self_attn.q_proj", w.q, w.q_bias, dq, qd},
                              {"self_attn.k_proj", w.k, w.k_bias, dk, kd},
                              {"self_attn.v_proj", w.v, w.v_bias, dv, kd}};
  bool first = true;
  for (const Proj& pr : projections) {
    grad.resize(pr.out * d);
    bias_grad.resize(pr.out);
    ops::linear_backward(m.h1.data(), pr.weight.data, pr.dy.data(), n, d, pr.out, grad.data(), dh.data(), !first,
                         pr.bias ? bias_grad.data() : nullptr);
    emit(std::string(pr.name) + ".weight", grad);
    if (pr.bias) emit(std::string(pr.name) + ".bias", bias_grad);
    first = false;
  }
  grad.resize(d);
  ops::rmsnorm_backward(m.x.data(), w.in_norm.data, m.inv1.data(), dh.data(), n, d, dx.data(), true, grad.data());
  emit("input_layernorm.weight", grad);
}

#define ALLOY_BLOCK_INSTANTIATE(S)                                                                                 \
  template Param<S> load_param<S>(const WeightSource&, const std::string&);                                        \
  template BlockWeights<S> load_block<S>(const ModelConfig&, const WeightSource&, int64_t);                        \
  template void block_forward<S>(const ModelConfig&, int64_t, const BlockWeights<S>&, const BlockShape&,           \
                                 const RopeTables<S>&, const Taps<S>&, std::vector<S>&, BlockCache<S>&);           \
  template void block_backward<S>(const ModelConfig&, int64_t, const BlockWeights<S>&, const BlockShape&,          \
                                  const RopeTables<S>&, const BlockCache<S>&, std::vector<S>&, const GradSink<S>&);

ALLOY_BLOCK_INSTANTIATE(float)
ALLOY_BLOCK_INSTANTIATE(double)

}  // namespace alloy
