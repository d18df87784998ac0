#include "bench_convert.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>

#include "tensor/convert.h"
#include "tensor/convert_simd.h"

namespace alloy::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Elements per second of `fn(n)`: repeated until `min_seconds` have passed, best of 3 rounds.
double rate(const std::function<void()>& fn, size_t n, double min_seconds) {
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    size_t calls = 0;
    auto start = Clock::now();
    double s = 0;
    do {
      fn();
      ++calls;
      s = std::chrono::duration<double>(Clock::now() - start).count();
    } while (s < min_seconds);
    best = std::max(best, static_cast<double>(calls * n) / s);
  }
  return best;
}

}  // namespace

std::vector<ConvertSpeed> convert_benchmark() {
  constexpr size_t kCached = 1 << 16;   // one executor block
  constexpr size_t kMemory = 1 << 25;   // 128 MB of f32
  std::vector<float> f(kMemory);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (auto& x : f) x = normal(rng);
  std::vector<uint16_t> h(kMemory), b(kMemory);
  from_f32(f.data(), DType::F16, h.data(), kMemory);
  from_f32(f.data(), DType::BF16, b.data(), kMemory);
  std::vector<float> out_f(kMemory);
  std::vector<uint16_t> out_h(kMemory);

  std::vector<const ConvertKernels*> sets = {&scalar_convert_kernels()};
  if (const ConvertKernels* k = avx2_convert_kernels()) sets.push_back(k);
  std::vector<ConvertSpeed> rows;
  for (const ConvertKernels* k : sets) {
    struct Op {
      const char* name;
      std::function<void(size_t)> fn;
    };
    const Op ops[] = {
        {"f16_to_f32", [&](size_t n) { k->f16_to_f32(h.data(), out_f.data(), n); }},
        {"bf16_to_f32", [&](size_t n) { k->bf16_to_f32(b.data(), out_f.data(), n); }},
        {"f32_to_f16", [&](size_t n) { k->f32_to_f16(f.data(), out_h.data(), n); }},
        {"f32_to_bf16", [&](size_t n) { k->f32_to_bf16(f.data(), out_h.data(), n); }},
        {"round_bf16", [&](size_t n) { k->round_bf16(out_f.data(), n); }},
        {"find_non_finite", [&](size_t n) { (void)k->find_non_finite(f.data(), n); }},
    };
    for (const Op& op : ops) {
      ConvertSpeed s;
      s.kernels = k->name;
      s.op = op.name;
      s.cached_elements_per_s = rate([&] { op.fn(kCached); }, kCached, 0.05);
      s.memory_elements_per_s = rate([&] { op.fn(kMemory); }, kMemory, 0.2);
      rows.push_back(s);
    }
  }
  return rows;
}

}  // namespace alloy::bench
