// Ranks of magnitudes within a row, for DELLA's keep probabilities. Equal magnitudes share the mean
// of the ranks they span (a "fractional" rank, as in statistics' rank tests), so an entry's rank
// depends only on its magnitude and on the row's multiset of magnitudes, never on column order.
// Mean ranks are half-integers; they are handed out doubled, as integers.
#pragma once
#include <cstdint>
#include <vector>

namespace alloy {

// Reusable buffers of doubled_mean_ranks.
struct RankScratch {
  std::vector<uint64_t> items;
  std::vector<uint32_t> counts, sharing, fine, flags, values;
  std::vector<uint16_t> slots;
  std::vector<uint32_t> occupied;
};

// Rows whose non-zero magnitudes' high 16 bits span at most this many values, and of which at most
// an eighth have non-zero low 16 bits, are ranked by counting (no sort of the row).
inline constexpr uint32_t kDirectRankSpan = 4096;

// For n < 2^31 magnitude bit patterns (finite floats with the sign cleared: their bit order is
// their value order), out[i] = 2·(mean ascending rank of key[i]) ∈ [2, 2n], ranks counted from 1:
// a group of g equal keys after `a` smaller ones spans ranks a+1 … a+g, so each of them gets
// 2a + g + 1. With `value_of_doubled_rank` (2n − 1 entries), out[i] is
// value_of_doubled_rank[2·mean rank − 2] instead: the lookup folded into the ranking's last pass.
void doubled_mean_ranks(const uint32_t* magnitude_bits, int64_t n, uint32_t* out, RankScratch& scratch,
                        const uint32_t* value_of_doubled_rank = nullptr);

}  // namespace alloy
