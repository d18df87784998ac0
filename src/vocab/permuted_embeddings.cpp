#include "vocab/permuted_embeddings.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "tensor/convert.h"
#include "tensor/view_rows.h"
#include "util/error.h"

namespace alloy {

namespace {

std::vector<float> read_row(const TensorView& view, int64_t row) {
  std::vector<float> out(static_cast<size_t>(view.row_length()));
  read_view_rows(view, row, row + 1, out.data());
  return out;
}

// Default rows that some model takes (it lacks the token, or the token is forced), as f32.
std::unordered_map<int64_t, std::vector<float>> default_rows(const OutputVocabulary& vocab,
                                                            const std::vector<std::optional<TensorView>>& inputs,
                                                            const std::vector<std::string>& labels,
                                                            const std::string& tensor, int64_t width) {
  std::unordered_map<int64_t, std::vector<float>> out;
  for (int64_t id = 0; id < vocab.size(); ++id) {
    const DefaultRow& d = vocab.defaults[static_cast<size_t>(id)];
    bool needed = d.force;
    for (size_t m = 0; m < inputs.size() && !needed; ++m)
      needed = inputs[m] && vocab.old_ids[m][static_cast<size_t>(id)] < 0;
    if (!needed) continue;
    std::vector<float> row(static_cast<size_t>(width), 0.0f);
    if (d.kind == DefaultRow::Kind::Model) {
      if (!inputs[d.model])
        fail("tensor '", tensor, "': token '", vocab.tokens[static_cast<size_t>(id)], "' takes its row from model '",
             labels[d.model], "', which has no such tensor");
      row = read_row(*inputs[d.model], d.row);
    } else if (d.kind == DefaultRow::Kind::Average) {
      std::vector<double> sum(static_cast<size_t>(width), 0.0);
      int count = 0;
      for (size_t m = 0; m < inputs.size(); ++m) {
        const int64_t old = vocab.old_ids[m][static_cast<size_t>(id)];
        if (!inputs[m] || old < 0) continue;
        const std::vector<float> r = read_row(*inputs[m], old);
        for (size_t i = 0; i < r.size(); ++i) sum[i] += r[i];
        ++count;
      }
      for (size_t i = 0; i < row.size() && count > 0; ++i) row[i] = static_cast<float>(sum[i] / count);
    }
    out.emplace(id, std::move(row));
  }
  return out;
}

}  // namespace

std::vector<std::shared_ptr<const PermutedRows>> permute_embeddings(const OutputVocabulary& vocab,
                                                                    const std::vector<std::optional<TensorView>>& inputs,
                                                                    const std::vector<std::string>& labels,
                                                                    const std::string& tensor) {
  int64_t width = -1;
  size_t width_model = 0;
  for (size_t m = 0; m < inputs.size(); ++m) {
    if (!inputs[m]) continue;
    const TensorView& v = *inputs[m];
    if (v.shape.size() != 2)
      fail("tensor '", tensor, "' in model '", labels[m], "': shape ", shape_str(v.shape),
           " is not 2-D, so it has no vocabulary rows to lay out");
    if (width >= 0 && v.shape[1] != width)
      fail("tensor '", tensor, "': rows of ", v.shape[1], " elements in model '", labels[m], "' but ", width,
           " in model '", labels[width_model], "'; vocabulary merging needs equal embedding widths");
    if (width < 0) width = v.shape[1], width_model = m;
    for (int64_t id = 0; id < vocab.size(); ++id) {
      const DefaultRow& d = vocab.defaults[static_cast<size_t>(id)];
      const int64_t own = vocab.old_ids[m][static_cast<size_t>(id)];
      const int64_t needed = std::max(own, d.kind == DefaultRow::Kind::Model && d.model == m ? d.row : -1);
      if (needed >= v.shape[0])
        fail("tensor '", tensor, "' in model '", labels[m], "': has ", v.shape[0], " rows, but token '",
             vocab.tokens[static_cast<size_t>(id)], "' needs row ", needed,
             " (its tokenizer or config.json's vocab_size is larger than the matrix)");
    }
  }
  const auto defaults = default_rows(vocab, inputs, labels, tensor, width);

  std::vector<std::shared_ptr<const PermutedRows>> out;
  for (size_t m = 0; m < inputs.size(); ++m) {
    if (!inputs[m]) {
      out.push_back(nullptr);
      continue;
    }
    const TensorView& in = *inputs[m];
    const bool byte_copy = !in.is_encoded() && traits(in.dtype).is_writable_float;
    auto rows = std::make_shared<PermutedRows>();
    TensorView& view = rows->view;
    view.dtype = byte_copy ? in.dtype : DType::F32;
    view.shape = {vocab.padded_size, width};
    const size_t row_bytes = static_cast<size_t>(width) * dtype_size(view.dtype);
    view.nbytes = static_cast<uint64_t>(vocab.padded_size) * row_bytes;
    rows->bytes.assign(view.nbytes, std::byte{0});
    std::byte* data = rows->bytes.data();
    std::vector<float> buffer(static_cast<size_t>(width));
    for (int64_t id = 0; id < vocab.size(); ++id) {
      std::byte* dst = data + static_cast<size_t>(id) * row_bytes;
      const int64_t own = vocab.old_ids[m][static_cast<size_t>(id)];
      if (own >= 0 && !vocab.defaults[static_cast<size_t>(id)].force) {
        if (byte_copy) {
          std::memcpy(dst, in.data + static_cast<size_t>(own) * row_bytes, row_bytes);
        } else {
          read_view_rows(in, own, own + 1, buffer.data());
          from_f32(buffer.data(), view.dtype, dst, buffer.size());
        }
      } else {
        from_f32(defaults.at(id).data(), view.dtype, dst, static_cast<size_t>(width));
      }
    }
    // Rows past the vocabulary (pad_to_multiple_of): the mean of the vocabulary's rows.
    if (vocab.padded_size > vocab.size() && vocab.size() > 0) {
      std::vector<double> sum(static_cast<size_t>(width), 0.0);
      for (int64_t id = 0; id < vocab.size(); ++id) {
        to_f32(view.dtype, data + static_cast<size_t>(id) * row_bytes, buffer.data(), buffer.size());
        for (size_t i = 0; i < buffer.size(); ++i) sum[i] += buffer[i];
      }
      for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(sum[i] / static_cast<double>(vocab.size()));
      for (int64_t id = vocab.size(); id < vocab.padded_size; ++id)
        from_f32(buffer.data(), view.dtype, data + static_cast<size_t>(id) * row_bytes, buffer.size());
    }
    view.data = data;
    out.push_back(std::move(rows));
  }
  return out;
}

}  // namespace alloy
