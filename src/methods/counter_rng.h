// CounterRng: a counter-based random generator. Each draw is a pure function of a key (seed,
// stream name, stream index) and a counter (the element index), so random masks are identical for
// any thread count, chunking or evaluation order. Used by DARE and DELLA masks.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>

namespace alloy {

// The SplitMix64 finaliser (Stafford's "mix13"): a bijection on 64-bit words with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

// A 64-bit hash of a string (FNV-1a folded through mix64), stable across platforms and versions.
uint64_t hash_string(std::string_view s);

class CounterRng {
 public:
  CounterRng() = default;
  // One independent stream per (seed, name, index): for masks, (--random-seed, output tensor name,
  // input index).
  CounterRng(uint64_t seed, std::string_view name, uint64_t index);

  // 64 random bits for `counter`.
  uint64_t bits(uint64_t counter) const { return mix64(mix64(counter * kGamma + k0_) ^ k1_); }
  // A uniform double in [0, 1) with 53 random bits: u = (bits >> 11) · 2^-53. (The signed
  // conversion is exact here and much cheaper than the unsigned one.)
  double uniform(uint64_t counter) const {
    return static_cast<double>(static_cast<int64_t>(bits(counter) >> 11)) * 0x1p-53;
  }
  // True with probability p (p <= 0: never; p >= 1: always): uniform(counter) < p.
  bool bernoulli(uint64_t counter, double p) const { return uniform(counter) < p; }
  // The same test with p fixed: bernoulli(c, p) == below(c, cutoff(p)), without floating point.
  static uint64_t cutoff(double p) {
    if (!(p > 0)) return 0;
    if (p >= 1) return uint64_t{1} << 53;
    return static_cast<uint64_t>(std::ceil(p * 0x1p53));  // u < p  <=>  bits >> 11 < ceil(p · 2^53)
  }
  bool below(uint64_t counter, uint64_t cutoff) const { return (bits(counter) >> 11) < cutoff; }

 private:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // the golden-ratio increment
  uint64_t k0_ = 0;
  uint64_t k1_ = 0;
};

}  // namespace alloy
