#include "analyze/tensor_geometry.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "os/page_hints.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace {

// Elements converted at a time (stays in L2 for a few models) and per unit of thread work; both
// fixed, so the order of every f64 addition is independent of the thread count.
constexpr int64_t kChunk = int64_t{1} << 13;
constexpr int64_t kBlock = int64_t{1} << 20;

// Sign of a non-zero value as 0 (positive) or 1 (negative).
inline int negative(double v) { return v < 0 ? 1 : 0; }

struct Buffers {
  std::vector<float> base;
  std::vector<std::vector<float>> models;
  std::vector<const float*> model_ptrs;
};

void convert_checked(const TensorInputs& in, size_t input, const TensorView& v, int64_t first, int64_t n,
                     float* out) {
  // Chunks here are element runs, not whole rows: quantised blocks and llama.cpp's q/k row order
  // (GGUF inputs, tensor/view_rows.h) cannot be read by element.
  if (v.is_encoded())
    fail("tensor '", in.name, "' of ", in.labels[input], ": alloy analyze reads plain float tensors, not quantised "
         "or llama.cpp-ordered GGUF ones; merge the GGUF into safetensors first (alloy merge) and analyze that");
  const size_t esize = dtype_size(v.dtype);
  size_t bad = to_f32_checked(v.dtype, v.data + static_cast<size_t>(first) * esize, out, static_cast<size_t>(n));
  if (bad < static_cast<size_t>(n))
    fail("tensor '", in.name, "' of ", in.labels[input], " has a non-finite value (", out[bad], ") at element ",
         first + static_cast<int64_t>(bad), "; task vectors of NaN or Inf weights mean nothing");
}

void release_block(const TensorView& v, int64_t first, int64_t end) {
  if (!v.file_mapped) return;
  const size_t esize = dtype_size(v.dtype);
  release_pages(v.data + static_cast<size_t>(first) * esize, static_cast<uint64_t>(end - first) * esize);
}

GeometrySums block_geometry(const TensorInputs& in, int64_t first, int64_t end, Buffers& buf) {
  GeometrySums sums(static_cast<int>(in.models.size()));
  for (int64_t c = first; c < end; c += kChunk) {
    const int64_t n = std::min(kChunk, end - c);
    convert_checked(in, 0, in.base, c, n, buf.base.data());
    for (size_t m = 0; m < in.models.size(); ++m) convert_checked(in, m + 1, in.models[m], c, n, buf.models[m].data());
    accumulate_task_vectors(buf.base.data(), buf.model_ptrs, static_cast<size_t>(n), sums);
  }
  // Mapped pages read once stay in the resident set; letting them go keeps it at a few blocks per
  // thread (they stay in the page cache).
  release_block(in.base, first, end);
  for (const auto& m : in.models) release_block(m, first, end);
  return sums;
}

}  // namespace

void accumulate_task_vectors(const float* base, std::span<const float* const> models, size_t n, GeometrySums& sums) {
  const size_t count = models.size();
  std::vector<double> tau(count * n);
  for (size_t m = 0; m < count; ++m) {
    double* t = tau.data() + m * n;
    double sq = 0;
    for (size_t e = 0; e < n; ++e) {
      t[e] = static_cast<double>(models[m][e]) - static_cast<double>(base[e]);
      sq += t[e] * t[e];
    }
    sums.squares[m] += sq;
  }
  size_t p = 0;
  for (size_t i = 0; i < count; ++i)
    for (size_t j = i + 1; j < count; ++j, ++p) {
      const double* a = tau.data() + i * n;
      const double* b = tau.data() + j * n;
      double dot = 0;
      uint64_t both = 0, differ = 0;
      for (size_t e = 0; e < n; ++e) {
        dot += a[e] * b[e];
        const bool nonzero = a[e] != 0 && b[e] != 0;
        both += nonzero;
        differ += nonzero && negative(a[e]) != negative(b[e]);
      }
      sums.dots[p] += dot;
      sums.both_nonzero[p] += both;
      sums.signs_differ[p] += differ;
    }
  if (count >= 2)
    for (size_t e = 0; e < n; ++e) {
      int nonzero = 0, negatives = 0;
      for (size_t m = 0; m < count; ++m) {
        const double v = tau[m * n + e];
        nonzero += v != 0;
        negatives += v < 0;
      }
      if (nonzero >= 2) {
        ++sums.several_nonzero;
        sums.signs_mixed += negatives != 0 && negatives != nonzero;
      }
    }
  sums.elements += n;
}

GeometrySums tensor_geometry(const TensorInputs& in, int threads) {
  for (size_t m = 0; m < in.models.size(); ++m)
    if (in.models[m].shape != in.base.shape)
      fail("tensor '", in.name, "' has shape ", shape_str(in.models[m].shape), " in ", in.labels[m + 1], " but ",
           shape_str(in.base.shape), " in ", in.labels[0], "; task vectors need models of one architecture");
  const int64_t total = in.base.numel();
  const int64_t blocks = (total + kBlock - 1) / kBlock;
  std::vector<GeometrySums> partial(static_cast<size_t>(blocks));
  // An error stops new blocks; every block before the failing one was already taken and runs to
  // its end, so the first failing block (the one reported) is the same for any thread count.
  std::vector<std::exception_ptr> errors(static_cast<size_t>(blocks));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    Buffers buf;
    buf.base.resize(kChunk);
    buf.models.assign(in.models.size(), std::vector<float>(kChunk));
    for (auto& m : buf.models) buf.model_ptrs.push_back(m.data());
    for (int64_t b; (b = next.fetch_add(1)) < blocks;) {
      try {
        partial[b] = block_geometry(in, b * kBlock, std::min(total, (b + 1) * kBlock), buf);
      } catch (...) {
        errors[b] = std::current_exception();
        next = blocks;
      }
    }
  };
  const int64_t workers = std::clamp<int64_t>(threads, 1, std::max<int64_t>(blocks, 1));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  GeometrySums sums(static_cast<int>(in.models.size()));
  for (const auto& p : partial) sums += p;
  return sums;
}

}  // namespace alloy
