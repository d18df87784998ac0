// CounterRng: a counter-based random generator. Each draw is a pure function of a key (seed,
// stream name, stream index) and a counter (the element index), so random masks are identical for
// any thread count, chunking or evaluation order. Used by DARE and DELLA masks.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>

namespace alloy {

// The SplitMix64 finaliser (Stafford's "mix13"): a bijection on 64-bit words with full avalanche.
// Derives keys from seeds and names (not per element).
inline uint64_t mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

// Chris Wellons' lowbias32: a bijection on 32-bit words with low avalanche bias.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// The same on each lane of a GCC vector of 32-bit words (util/lanes.h), in place: the same bits
// per lane. (Vectors by reference: an AVX-sized value by value would change the ABI of the
// baseline build.)
template <class Lanes>
__attribute__((always_inline)) inline void mix32_lanes(Lanes& x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
}

// A 64-bit hash of a string (FNV-1a folded through mix64), stable across platforms and versions.
uint64_t hash_string(std::string_view s);

// A draw is 32 bits: two rounds of a 32-bit integer mixer (Wellons' "lowbias32") keyed in between,
// so that a mask loop vectorises (eight 32-bit lanes; a 64-bit mixer would need 64-bit multiplies,
// which AVX2 lacks). For a fixed key and the high half of the counter, a draw is a bijection of the
// low half: 2^32 consecutive elements never repeat a draw. Keep probabilities resolve to 2^-32.
class CounterRng {
 public:
  CounterRng() = default;
  // One independent stream per (seed, name, index): for masks, (--random-seed, output tensor name,
  // input index).
  CounterRng(uint64_t seed, std::string_view name, uint64_t index);

  // The key for counters whose high 32 bits are `high`; draw(key, low) is bits(high << 32 | low).
  uint32_t key_for(uint32_t high) const { return mix32(high ^ k1_) ^ k2_; }
  uint32_t draw(uint32_t key, uint32_t low) const { return mix32(mix32(low + k0_) ^ key); }
  // draw() on each lane of `low` (a GCC vector of 32-bit words), in place.
  template <class Lanes>
  __attribute__((always_inline)) void draw_lanes(uint32_t key, Lanes& low) const {
    low += k0_;
    mix32_lanes(low);
    low ^= key;
    mix32_lanes(low);
  }

  // 32 random bits for `counter`.
  uint32_t bits(uint64_t counter) const {
    return draw(key_for(static_cast<uint32_t>(counter >> 32)), static_cast<uint32_t>(counter));
  }
  // A uniform double in [0, 1): bits · 2^-32 (exact).
  double uniform(uint64_t counter) const { return to_unit(bits(counter)); }
  static double to_unit(uint32_t b) {
    // Through a signed conversion, which vector units have (an unsigned one they lack); exact.
    return (static_cast<double>(static_cast<int32_t>(b ^ 0x80000000u)) + 0x1p31) * 0x1p-32;
  }
  // True with probability p (p <= 0: never; p >= 1: always): uniform(counter) < p.
  bool bernoulli(uint64_t counter, double p) const { return uniform(counter) < p; }
  // The same test with p fixed: bernoulli(c, p) == below(c, cutoff(p)), without floating point:
  // u < p  <=>  bits < ceil(p · 2^32). A cutoff of 2^32 keeps everything.
  static uint64_t cutoff(double p) {
    if (!(p > 0)) return 0;
    if (p >= 1) return uint64_t{1} << 32;
    return static_cast<uint64_t>(std::ceil(p * 0x1p32));
  }
  bool below(uint64_t counter, uint64_t cutoff) const { return bits(counter) < cutoff; }

 private:
  uint32_t k0_ = 0, k1_ = 0, k2_ = 0;
};

}  // namespace alloy
