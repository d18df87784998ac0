// The keep decisions of DARE's and DELLA's random masks, one bit per element, as the rescale pass
// stores them and the merge reads them back (TaskVectorMask::kept).
//
// Lane-interleaved in groups of 256 elements, so that the eight lanes of a vector loop set and
// read them without horizontal steps: element e is bit (e / 8) mod 32 of word 8·(e / 256) + e mod 8.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "util/lanes.h"

namespace alloy {

inline size_t keep_word(uint64_t e) { return static_cast<size_t>((e >> 8) * 8 + (e & 7)); }
inline uint32_t keep_bit(uint64_t e) { return uint32_t{1} << ((e >> 3) & 31); }
inline bool is_kept(const uint32_t* words, uint64_t e) { return (words[keep_word(e)] & keep_bit(e)) != 0; }
inline void set_kept(uint32_t* words, uint64_t e) { words[keep_word(e)] |= keep_bit(e); }
// Words for n elements: whole groups, so that a group's eight words are always there to load.
inline size_t keep_words(int64_t n) { return (static_cast<size_t>(n) + 255) / 256 * 8; }

// The keep lanes (all ones or zero) of elements e .. e + 7, e a multiple of 8, in a loop over
// consecutive steps: `words` holds the group's words shifted so that bit 0 is this step's, loaded
// at the loop's first step (`first_step`) and at each group's start. (Vectors by reference: an
// AVX-sized value by value would change the ABI of the baseline build.)
__attribute__((always_inline)) inline void next_keep_lanes(const uint32_t* kept, uint64_t e, bool first_step,
                                                           U32x8& words, I32x8& keep) {
  const uint32_t step = static_cast<uint32_t>(e >> 3) & 31;
  if (step == 0 || first_step) {
    std::memcpy(&words, kept + keep_word(e), sizeof words);
    words >>= step;
  }
  keep = -reinterpret_cast<I32x8>(words & 1u);
  words >>= 1;
}

// Lanes 4·half .. 4·half + 3 of `v`, sign-extended to 64 bits, in registers: a copy through
// memory stores 32 bytes and loads 16 of them back, which stalls on store forwarding.
__attribute__((always_inline)) inline void half_as_i64(const I32x8& v, int half, I64x4& out) {
  // (lane by lane, as load_f64x4 and for the same reason: one vpmovsxdq, not two and an insert)
  const int at = 4 * half;
  out = I64x4{v[at], v[at + 1], v[at + 2], v[at + 3]};
}

}  // namespace alloy
