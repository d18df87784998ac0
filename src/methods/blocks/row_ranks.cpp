#include "methods/blocks/row_ranks.h"

#include <algorithm>
#include <bit>

#include "util/vectorize.h"

namespace alloy {

namespace {

// A magnitude's bits below its high half (rarely any in bf16 task vectors; see below).
constexpr uint32_t kLowHalf = 0xffffu;
inline bool has_low_bits(uint32_t key) { return (key & kLowHalf) != 0; }

// The counting path's view of a row: the smallest non-zero key (via min(key − 1), where a zero
// wraps to the top), the largest key, how many keys have non-zero low halves, and the zeros.
ALLOY_VECTORIZED void key_range(const uint32_t* key, size_t n, uint32_t& min_nonzero, uint32_t& max, uint32_t& fine,
                                uint32_t& zeros) {
  uint32_t lo = ~0u, hi = 0, f = 0, z = 0;
  for (size_t i = 0; i < n; ++i) {
    lo = std::min(lo, key[i] - 1);
    hi = std::max(hi, key[i]);
    f += has_low_bits(key[i]);
    z += key[i] == 0;
  }
  min_nonzero = lo + 1;
  max = hi;
  fine = f;
  zeros = z;
}

// Exact zeros (most of a sparse task vector's entries) are counted apart: a run of increments of
// one counter at irregular distances makes each wait for the one before (the loads are predicted
// independent of the stores, and are not; 1.5 ns per element against 0.7). Their slots rotate
// over kZeroSinks counters past the others, which nothing reads.
constexpr uint32_t kZeroSinks = 16;

// A key's slot: 1 + (high half − low_high) when it is not zero, else sinks + i mod kZeroSinks.
ALLOY_VECTORIZED void rank_slots(const uint32_t* key, size_t n, uint32_t low_high, uint32_t sinks, uint16_t* slot) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = key[i];
    const uint32_t zero_slot = sinks + static_cast<uint32_t>(i % kZeroSinks);
    slot[i] = static_cast<uint16_t>(k != 0 ? 1 + ((k >> 16) - low_high) : zero_slot);
  }
}

ALLOY_VECTORIZED void values_of_slots(const uint16_t* slot, size_t n, const uint32_t* value_of_slot, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = value_of_slot[slot[i]];
}

// Bit k of bits[w]: v[32·w + k] & mask is not zero (32-bit words: the lanes of the compares).
ALLOY_VECTORIZED void nonzero_flags(const uint32_t* v, size_t n, uint32_t mask, uint32_t* bits) {
  for (size_t w = 0; w < n / 32; ++w) {
    uint32_t word = 0;
    for (int k = 0; k < 32; ++k) word |= static_cast<uint32_t>((v[w * 32 + k] & mask) != 0) << k;
    bits[w] = word;
  }
  if (n % 32 != 0) {
    uint32_t word = 0;
    for (size_t k = n / 32 * 32; k < n; ++k) word |= static_cast<uint32_t>((v[k] & mask) != 0) << (k % 32);
    bits[n / 32] = word;
  }
}

// fn(i) for each bit i set in the flag words of n entries, in ascending order.
template <class Fn>
void for_each_flag(const uint32_t* bits, size_t n, Fn fn) {
  for (size_t w = 0; w * 32 < n; ++w)
    for (uint32_t b = bits[w]; b != 0; b &= b - 1) fn(w * 32 + static_cast<size_t>(std::countr_zero(b)));
}

// Items sorted by their bits 32 and up (the key), index in the low 32: each run of g equal keys,
// after `before` smaller ones, gets group_value(before, g).
template <class GroupValue>
void give_groups(const uint64_t* item, size_t m, uint32_t before, const GroupValue& group_value, uint32_t* out) {
  for (size_t j = 0; j < m;) {
    size_t end = j + 1;
    while (end < m && item[end] >> 32 == item[j] >> 32) ++end;
    const uint32_t g = static_cast<uint32_t>(end - j), v = group_value(before, g);
    for (; j < end; ++j) out[static_cast<uint32_t>(item[j])] = v;
    before += g;
  }
}

// Any row: the non-zero keys' items (key << 32 | index) sorted by key with an LSD radix sort, in
// `items` (returns their count); `zeros` is the number of zero keys, which are not sorted.
size_t sort_nonzero_by_radix(const uint32_t* key, size_t len, std::vector<uint64_t>& items, uint32_t& zeros) {
  // The passes cover only the bits in which the non-zero keys differ, split evenly into digits of
  // at most 11 bits.
  items.resize(2 * len);
  uint64_t* a = items.data();
  uint64_t* b = a + len;
  uint32_t z = 0, any = 0, all = ~0u;
  size_t m = 0;
  for (size_t i = 0; i < len; ++i) {  // branch-free: a zero's item is overwritten by the next one
    const uint32_t k = key[i];
    const bool zero = k == 0;
    z += zero;
    a[m] = static_cast<uint64_t>(k) << 32 | i;
    m += !zero;
    any |= k;
    all &= zero ? ~0u : k;
  }
  zeros = z;
  const uint32_t varying = any ^ (m > 0 ? all : any);
  if (varying != 0) {
    const int low = std::countr_zero(varying), high = static_cast<int>(std::bit_width(varying));
    const int passes = (high - low + 10) / 11, digit = (high - low + passes - 1) / passes;
    uint32_t offset[2048];
    for (int shift = low; shift < high; shift += digit) {
      const int bits = std::min(digit, high - shift);
      const uint64_t mask = (uint64_t{1} << bits) - 1;
      const size_t buckets = size_t{1} << bits;
      std::fill(offset, offset + buckets, 0u);
      for (size_t i = 0; i < m; ++i) ++offset[(a[i] >> (32 + shift)) & mask];
      uint32_t at = 0;
      for (size_t v = 0; v < buckets; ++v) {
        const uint32_t c = offset[v];
        offset[v] = at;
        at += c;
      }
      for (size_t i = 0; i < m; ++i) b[offset[(a[i] >> (32 + shift)) & mask]++] = a[i];
      std::swap(a, b);
    }
  }
  if (a != items.data()) std::copy(a, a + m, items.data());
  return m;
}

}  // namespace

void doubled_mean_ranks(const uint32_t* key, int64_t n, uint32_t* out, RankScratch& scratch,
                        const uint32_t* value_of_doubled_rank) {
  if (n <= 0) return;
  const size_t len = static_cast<size_t>(n);
  // v = 2·(mean rank) − 2 for a group of g keys after `before` smaller ones: 2·before + g − 1.
  auto value = [value_of_doubled_rank](uint32_t v) { return value_of_doubled_rank ? value_of_doubled_rank[v] : v + 2; };
  auto group_value = [&](uint32_t before, uint32_t g) { return value(2 * before + g - 1); };
  uint32_t min_nonzero = 0, max = 0, fine = 0, zeros = 0;
  key_range(key, len, min_nonzero, max, fine, zeros);
  const uint32_t low_high = min_nonzero >> 16;
  const uint32_t span = max == 0 ? 0 : (max >> 16) - low_high + 1;
  if (span > kDirectRankSpan || static_cast<size_t>(fine) * 8 > len) {
    // Rows of f32 task vectors (full mantissas) or of very wide range: sorted.
    const size_t m = sort_nonzero_by_radix(key, len, scratch.items, zeros);
    if (zeros > 0) std::fill(out, out + len, group_value(0, zeros));  // the non-zero ones follow
    give_groups(scratch.items.data(), m, zeros, group_value, out);
    return;
  }
  // bf16 task vectors are small multiples of an ulp: almost every magnitude has a zero low half,
  // and a row's high halves span a few thousand values at most. Such a row is ranked without
  // moving its items: a count per high half, then a pass over the counters that gives each its
  // group's value, then one lookup per entry. The keys with a non-zero low half order after their
  // high half's other keys, among themselves by low half; the counters hold them too, and they get
  // their values apart. (Ranks that break ties by index would read, increment and write back a
  // counter per entry: the loads wait on the stores before them.)
  const size_t slots = size_t{span} + 1, sinks = slots;
  scratch.slots.resize(len);
  uint16_t* slot = scratch.slots.data();
  rank_slots(key, len, low_high, static_cast<uint32_t>(sinks), slot);
  scratch.counts.assign(slots + kZeroSinks, 0);
  uint32_t* count = scratch.counts.data();
  for (size_t i = 0; i < len; ++i) ++count[slot[i]];
  count[0] = zeros;
  // How many keys with low bits each slot holds, in an array kept zero between rows (only these
  // entries are touched).
  if (scratch.sharing.size() < slots) scratch.sharing.resize(slots, 0);
  uint32_t* sharing = scratch.sharing.data();
  size_t m = 0;
  if (fine > 0) {
    scratch.flags.resize(len / 32 + 1);
    nonzero_flags(key, len, kLowHalf, scratch.flags.data());  // the keys with low bits
    scratch.fine.resize(fine);
    for_each_flag(scratch.flags.data(), len, [&](size_t i) { scratch.fine[m++] = static_cast<uint32_t>(i); });
    for (size_t j = 0; j < m; ++j) ++sharing[slot[scratch.fine[j]]];
  }
  // Each occupied slot's value, in slot order. A row's high halves span ~4x more slots than it
  // has distinct ones, so the occupied ones are found from flag words (an empty slot's value and
  // count are never read).
  scratch.values.resize(slots + kZeroSinks);
  uint32_t* value_of_slot = scratch.values.data();
  scratch.occupied.resize(slots / 32 + 1);
  uint32_t* occupied = scratch.occupied.data();
  nonzero_flags(count, slots, ~0u, occupied);
  uint32_t at = 0;
  for_each_flag(occupied, slots, [&](size_t s) {
    const uint32_t total = count[s], coarse = total - sharing[s];
    // (a slot of keys with low bits only has no coarse group: its value is overwritten below)
    value_of_slot[s] = group_value(at, std::max(coarse, 1u));
    count[s] = at + coarse;  // the ranks before the slot's keys with low bits
    at += total;
  });
  std::fill(value_of_slot + sinks, value_of_slot + sinks + kZeroSinks, value_of_slot[0]);
  values_of_slots(slot, len, value_of_slot, out);
  if (m == 0) return;
  // The keys with low bits: one alone in its slot takes the next rank; those that share one are
  // sorted apart by (slot, low half), equal ones sharing their mean rank.
  const uint32_t* fine_at = scratch.fine.data();
  scratch.items.resize(m);
  uint64_t* shared = scratch.items.data();
  size_t q = 0;
  for (size_t j = 0; j < m; ++j) {
    const uint32_t i = fine_at[j], c = slot[i];
    if (sharing[c] == 1)
      out[i] = group_value(count[c], 1);
    else
      shared[q++] = static_cast<uint64_t>(c) << 48 | static_cast<uint64_t>(key[i] & kLowHalf) << 32 | i;
  }
  for (size_t j = 0; j < m; ++j) sharing[slot[fine_at[j]]] = 0;
  std::sort(shared, shared + q);
  for (size_t j = 0; j < q;) {  // per slot, after its keys without low bits
    const uint32_t c = static_cast<uint32_t>(shared[j] >> 48);
    size_t end = j + 1;
    while (end < q && shared[end] >> 48 == c) ++end;
    give_groups(shared + j, end - j, count[c], group_value, out);
    j = end;
  }
}

}  // namespace alloy
