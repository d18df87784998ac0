#include "model/decoder.h"

#include "model/decoder_block.h"
#include "model/ops.h"
#include "util/error.h"

namespace alloy {

TokenBatch next_token_batch(std::vector<int32_t> tokens, int64_t batch, int64_t seq_len, int64_t first_scored) {
  if (batch < 0 || seq_len < 0 || static_cast<int64_t>(tokens.size()) != batch * seq_len)
    fail("token batch: ", tokens.size(), " tokens for ", batch, " sequences of ", seq_len);
  TokenBatch b{batch, seq_len, std::move(tokens), {}};
  b.targets.assign(b.tokens.size(), -1);
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t t = std::max<int64_t>(first_scored, 0); t + 1 < seq_len; ++t)
      b.targets[s * seq_len + t] = b.tokens[s * seq_len + t + 1];
  return b;
}

template <class S>
DecoderLM<S>::DecoderLM(ModelConfig config, const WeightSource& weights)
    : config_(std::move(config)), weights_(weights) {
  require_tensors(weights_, decoder_tensors(config_), config_.architecture);
}

namespace {

template <class S>
LossSum run(const ModelConfig& c, const WeightSource& weights, const TokenBatch& batch, int64_t first_layer,
            std::span<const S> hidden_in, const GradSink<S>* sink, const Taps<S>& taps) {
  const int64_t n = batch.batch * batch.seq_len, d = c.hidden_size, v = c.vocab_size;
  if (batch.batch <= 0 || batch.seq_len <= 0) fail("token batch: empty (", batch.batch, " x ", batch.seq_len, ")");
  if (static_cast<int64_t>(batch.targets.size()) != n)
    fail("token batch: ", batch.targets.size(), " targets for ", batch.batch, " x ", batch.seq_len, " positions");
  if (c.sliding_window > 0 && batch.seq_len > c.sliding_window)
    fail("token batch: sequences of ", batch.seq_len, " exceed the model's sliding_window ", c.sliding_window,
         "; use shorter sequences");
  for (int32_t t : batch.targets)
    if (t < -1 || t >= v) fail("token batch: target ", t, " is outside the vocabulary (", v, ")");

  std::vector<S> x(n * d);
  if (first_layer == 0) {
    if (static_cast<int64_t>(batch.tokens.size()) != n)
      fail("token batch: ", batch.tokens.size(), " tokens for ", batch.batch, " x ", batch.seq_len, " positions");
    const Param<S> embed = load_param<S>(weights, "model.embed_tokens.weight");
    for (int64_t i = 0; i < n; ++i) {
      const int32_t t = batch.tokens[i];
      if (t < 0 || t >= v) fail("token batch: token ", t, " is outside the vocabulary (", v, ")");
      std::copy_n(embed.data + t * d, d, x.data() + i * d);
    }
  } else {
    if (first_layer > c.num_layers || static_cast<int64_t>(hidden_in.size()) != n * d)
      fail("hidden input: ", hidden_in.size(), " values for layer ", first_layer, ", expected ", n * d);
    std::copy(hidden_in.begin(), hidden_in.end(), x.begin());
  }

  const RopeTables<S> rope = rope_tables<S>(c.rope, c.head_dim, batch.seq_len);
  const BlockShape shape{batch.batch, batch.seq_len};
  std::vector<BlockCache<S>> caches(sink ? c.num_layers : 1);
  for (int64_t l = first_layer; l < c.num_layers; ++l) {
    const BlockWeights<S> w = load_block<S>(c, weights, l);
    block_forward(c, l, w, shape, rope, taps, x, caches[sink ? l : 0]);
    if (taps.hidden) taps.hidden(l, x, n, d);
  }
  if (!sink) caches.clear();

  // Final norm, then the head over the scored positions only.
  const Param<S> norm = load_param<S>(weights, "model.norm.weight");
  std::vector<S> hn(n * d), inv(n);
  ops::rmsnorm(x.data(), norm.data, n, d, c.rms_norm_eps, hn.data(), inv.data());
  if (taps.hidden) taps.hidden(c.num_layers, hn, n, d);
  const std::string head_name = c.tied_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  if (taps.linear_input) taps.linear_input(head_name, hn, n, d);
  std::vector<int64_t> scored;
  std::vector<int32_t> targets;
  for (int64_t i = 0; i < n; ++i)
    if (batch.targets[i] >= 0) {
      scored.push_back(i);
      targets.push_back(batch.targets[i]);
    }
  const int64_t m = static_cast<int64_t>(scored.size());
  LossSum result;
  result.count = m;
  if (m == 0) {
    if (sink) fail("token batch: no scored position (every target is -1), so the loss has no gradient");
    return result;
  }
  std::vector<S> hsel(m * d);
  for (int64_t r = 0; r < m; ++r) std::copy_n(hn.data() + scored[r] * d, d, hsel.data() + r * d);
  std::vector<S> logits(m * v);
  std::vector<double> nll(m);
  std::vector<S> head_grad;
  {
    const Param<S> head = load_param<S>(weights, head_name);
    ops::linear(hsel.data(), head.data, static_cast<const S*>(nullptr), m, d, v, logits.data());
    ops::softmax_xent(logits.data(), targets.data(), m, v, 1.0 / static_cast<double>(m), nll.data(),
                      sink ? logits.data() : static_cast<S*>(nullptr));
    for (double l : nll) result.nll += l;
    if (!sink) return result;

    head_grad.resize(v * d);
    std::vector<S> dsel(m * d);
    ops::linear_backward(hsel.data(), head.data, logits.data(), m, d, v, head_grad.data(), dsel.data(), false,
                         static_cast<S*>(nullptr));
    std::fill(hn.begin(), hn.end(), S(0));  // now d(loss)/d(final norm output)
    for (int64_t r = 0; r < m; ++r) std::copy_n(dsel.data() + r * d, d, hn.data() + scored[r] * d);
  }
  logits = {};
  if (!c.tied_embeddings) {
    (*sink)("lm_head.weight", head_grad);
    head_grad = {};
  }
  std::vector<S> dx(n * d), norm_grad(d);
  ops::rmsnorm_backward(x.data(), norm.data, inv.data(), hn.data(), n, d, dx.data(), false, norm_grad.data());
  (*sink)("model.norm.weight", norm_grad);
  hn = {};
  x = {};

  for (int64_t l = c.num_layers - 1; l >= first_layer; --l) {
    const BlockWeights<S> w = load_block<S>(c, weights, l);
    block_backward(c, l, w, shape, rope, caches[l], dx, *sink);
    caches[l] = {};
  }
  if (first_layer == 0) {
    std::vector<S> embed_grad = std::move(head_grad);  // the head's share when tied
    embed_grad.resize(v * d, S(0));
    for (int64_t i = 0; i < n; ++i) {
      S* row = embed_grad.data() + batch.tokens[i] * d;
      const S* g = dx.data() + i * d;
      for (int64_t j = 0; j < d; ++j) row[j] += g[j];
    }
    (*sink)("model.embed_tokens.weight", embed_grad);
  } else if (c.tied_embeddings) {
    (*sink)("model.embed_tokens.weight", head_grad);
  }
  return result;
}

}  // namespace

template <class S>
LossSum DecoderLM<S>::loss(const TokenBatch& batch, const Taps<S>& taps) const {
  return run<S>(config_, weights_, batch, 0, {}, nullptr, taps);
}

template <class S>
LossSum DecoderLM<S>::loss_and_gradient(const TokenBatch& batch, const GradSink<S>& sink, const Taps<S>& taps) const {
  return run<S>(config_, weights_, batch, 0, {}, &sink, taps);
}

template <class S>
LossSum DecoderLM<S>::loss_from_hidden(int64_t first_layer, std::span<const S> hidden, const TokenBatch& batch) const {
  if (first_layer < 1 || first_layer > config_.num_layers)
    fail("loss_from_hidden: first_layer ", first_layer, " must be in 1..", config_.num_layers);
  return run<S>(config_, weights_, batch, first_layer, hidden, nullptr, {});
}

template class DecoderLM<float>;
template class DecoderLM<double>;

}  // namespace alloy
