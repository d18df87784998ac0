// Optional check, not part of the build or `make test`: alloy's quantisers vs llama.cpp's reference
// ones (quantize_row_*_ref) on random rows, byte for byte.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <random>
#include <string>
#include <vector>
#include "ggml_link_stubs.h"
#include "tensor/ggml_quantise.h"
extern "C" {
void quantize_row_q4_0_ref(const float*, void*, int64_t);
void quantize_row_q5_0_ref(const float*, void*, int64_t);
void quantize_row_q5_1_ref(const float*, void*, int64_t);
void quantize_row_q8_0_ref(const float*, void*, int64_t);
void quantize_row_q4_K_ref(const float*, void*, int64_t);
void quantize_row_q5_K_ref(const float*, void*, int64_t);
void quantize_row_q6_K_ref(const float*, void*, int64_t);
}
using namespace alloy;
struct T { GgmlType t; void (*ref)(const float*, void*, int64_t); };

// Rows of several kinds: Gaussian, Gaussian with outliers, uniform, all positive, with all-zero
// and constant 16- and 32-element runs, and tiny values (subnormal f16 scales).
std::vector<float> make_row(std::mt19937_64& rng, int kind, size_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: x[i] = normal(rng) * 0.02f; break;
      case 1: x[i] = normal(rng) * (rng() % 64 == 0 ? 10.0f : 0.5f); break;
      case 2: x[i] = uniform(rng); break;
      case 3: x[i] = std::fabs(normal(rng)) + 0.25f; break;
      case 4: x[i] = (i / 16) % 3 == 0 ? 0.0f : (i / 32) % 5 == 1 ? 0.75f : normal(rng); break;
      default: x[i] = normal(rng) * 1e-6f; break;
    }
  }
  return x;
}

int main() {
  std::mt19937_64 rng(7);
  T types[] = {{GgmlType::Q8_0, quantize_row_q8_0_ref}, {GgmlType::Q4_0, quantize_row_q4_0_ref},
               {GgmlType::Q5_0, quantize_row_q5_0_ref}, {GgmlType::Q5_1, quantize_row_q5_1_ref},
               {GgmlType::Q4_K, quantize_row_q4_K_ref}, {GgmlType::Q5_K, quantize_row_q5_K_ref},
               {GgmlType::Q6_K, quantize_row_q6_K_ref}};
  int bad_total = 0;
  for (auto& t : types) {
    const size_t n = 256 * 64;  // 64 super-blocks or 512 blocks a row
    int bad = 0, rows = 0;
    for (int kind = 0; kind < 6; ++kind)
      for (int r = 0; r < 20; ++r, ++rows) {
        const std::vector<float> x = make_row(rng, kind, n);
        const uint64_t bytes = ggml_bytes(t.t, n);
        std::vector<std::byte> mine(bytes), ref(bytes);
        quantise(t.t, x.data(), mine.data(), n);
        t.ref(x.data(), ref.data(), static_cast<int64_t>(n));
        bad += std::memcmp(mine.data(), ref.data(), bytes) != 0;
      }
    printf("%-5s %d rows of %zu elements, %d differ (bytewise)\n", std::string(ggml_type_name(t.t)).c_str(), rows, n, bad);
    bad_total += bad;
  }
  return bad_total != 0;
}
