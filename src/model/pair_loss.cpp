#include "model/pair_loss.h"

#include "util/error.h"

namespace alloy {

EncoderBatch pair_batch(const EncoderConfig& config, const std::vector<std::vector<int32_t>>& queries,
                        const std::vector<std::vector<int32_t>>& positives) {
  if (queries.size() != positives.size())
    fail("pair batch: ", queries.size(), " queries for ", positives.size(), " positives");
  std::vector<std::vector<int32_t>> all = queries;
  all.insert(all.end(), positives.begin(), positives.end());
  return pad_sequences(all, config.pad_token_id);
}

template <class S>
InfoNceResult pair_info_nce(const Encoder<S>& encoder, const EncoderBatch& batch, const PoolingOptions& pooling,
                            double temperature, const GradSink<S>* sink) {
  if (batch.batch <= 0 || batch.batch % 2 != 0)
    fail("pair batch: ", batch.batch, " sequences; expected queries then as many positives");
  const int64_t pairs = batch.batch / 2, dim = encoder.config().hidden_size;
  auto score = [&](std::span<const S> embeddings, bool with_gradient) {
    const std::vector<double> e(embeddings.begin(), embeddings.end());
    const std::span<const double> all(e);
    return info_nce(all.first(pairs * dim), all.subspan(pairs * dim), pairs, dim, temperature, with_gradient);
  };
  if (!sink) return score(encoder.embed(batch, pooling), false);
  InfoNceResult result;
  encoder.embed_and_gradient(
      batch, pooling,
      [&](std::span<const S> embeddings) {
        result = score(embeddings, true);
        std::vector<S> grad(result.dq.begin(), result.dq.end());
        grad.insert(grad.end(), result.dp.begin(), result.dp.end());
        result.dq = {};
        result.dp = {};
        return grad;
      },
      *sink);
  return result;
}

template InfoNceResult pair_info_nce<float>(const Encoder<float>&, const EncoderBatch&, const PoolingOptions&, double,
                                            const GradSink<float>*);
template InfoNceResult pair_info_nce<double>(const Encoder<double>&, const EncoderBatch&, const PoolingOptions&,
                                             double, const GradSink<double>*);

}  // namespace alloy
