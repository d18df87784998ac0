#include "methods/blocks/counter_rng.h"

namespace alloy {

uint64_t hash_string(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV prime
  }
  return mix64(h ^ static_cast<uint64_t>(s.size()));
}

CounterRng::CounterRng(uint64_t seed, std::string_view name, uint64_t index) {
  // Chain the key parts through the mixer so that nearby seeds or indices give unrelated streams
  // (a plain sum would make stream i+1 a shifted copy of stream i).
  uint64_t k = mix64(seed ^ 0x243f6a8885a308d3ull);
  k = mix64(k ^ hash_string(name));
  k = mix64(k ^ (index * 0xd1b54a32d192ed03ull + 0x13198a2e03707344ull));
  const uint64_t k2 = mix64(k ^ 0xa4093822299f31d0ull);
  k0_ = static_cast<uint32_t>(k);
  k1_ = static_cast<uint32_t>(k >> 32);
  k2_ = static_cast<uint32_t>(k2);
}

}  // namespace alloy
