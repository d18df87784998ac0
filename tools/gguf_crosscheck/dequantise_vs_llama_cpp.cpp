// Optional check, not part of the build or `make test`: alloy's dequantisers vs llama.cpp's reference ones on random blocks.
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <random>
#include <vector>
#include <cmath>
#include "ggml_link_stubs.h"
#include "tensor/ggml_quants.h"
extern "C" {
void dequantize_row_q4_0(const void*, float*, int64_t);
void dequantize_row_q4_1(const void*, float*, int64_t);
void dequantize_row_q5_0(const void*, float*, int64_t);
void dequantize_row_q5_1(const void*, float*, int64_t);
void dequantize_row_q8_0(const void*, float*, int64_t);
void dequantize_row_q2_K(const void*, float*, int64_t);
void dequantize_row_q3_K(const void*, float*, int64_t);
void dequantize_row_q4_K(const void*, float*, int64_t);
void dequantize_row_q5_K(const void*, float*, int64_t);
void dequantize_row_q6_K(const void*, float*, int64_t);
}
using namespace alloy;
struct T { GgmlType t; void (*ref)(const void*, float*, int64_t); std::vector<int> f16_at; };
int main() {
  std::mt19937_64 rng(42);
  T types[] = {{GgmlType::Q4_0, dequantize_row_q4_0, {0}}, {GgmlType::Q4_1, dequantize_row_q4_1, {0, 2}},
               {GgmlType::Q5_0, dequantize_row_q5_0, {0}}, {GgmlType::Q5_1, dequantize_row_q5_1, {0, 2}},
               {GgmlType::Q8_0, dequantize_row_q8_0, {0}}, {GgmlType::Q2_K, dequantize_row_q2_K, {80, 82}},
               {GgmlType::Q3_K, dequantize_row_q3_K, {108}}, {GgmlType::Q4_K, dequantize_row_q4_K, {0, 2}},
               {GgmlType::Q5_K, dequantize_row_q5_K, {0, 2}}, {GgmlType::Q6_K, dequantize_row_q6_K, {208}}};
  int bad_total = 0;
  for (auto& t : types) {
    const auto& tr = traits(t.t);
    const int blocks = 1000;
    std::vector<uint8_t> b(blocks * tr.block_bytes);
    for (auto& x : b) x = rng() & 0xFF;
    for (int k = 0; k < blocks; ++k)
      for (int off : t.f16_at) {  // finite scales: random sign/exponent 5..25, random mantissa
        uint16_t h = ((rng() & 1) << 15) | ((5 + rng() % 20) << 10) | (rng() & 0x3FF);
        memcpy(&b[k * tr.block_bytes + off], &h, 2);
      }
    size_t n = (size_t)blocks * tr.block_elements;
    std::vector<float> mine(n), ref(n);
    dequantise(t.t, reinterpret_cast<const std::byte*>(b.data()), mine.data(), n);
    t.ref(b.data(), ref.data(), n);
    int bad = 0;
    for (size_t i = 0; i < n; ++i) bad += memcmp(&mine[i], &ref[i], 4) != 0;
    printf("%-5s %zu elements, %d differ (bitwise)\n", std::string(tr.name).c_str(), n, bad);
    bad_total += bad;
  }
  return bad_total != 0;
}
