// ALLOY_VECTORIZED: marks a hot loop function to be compiled twice, for AVX2 and for the baseline
// x86-64, with the copy chosen once at load time from the CPU (GCC/Clang target_clones). The
// loops are written so the compiler vectorises them (plain element-wise arithmetic over arrays,
// selects instead of branches); both copies compute the same operations in the same order, and
// -ffp-contract=off keeps multiply-adds unfused, so their results are bit-identical.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ALLOY_NO_TARGET_CLONES)
#define ALLOY_VECTORIZED __attribute__((target_clones("avx2", "default")))
#else
#define ALLOY_VECTORIZED
#endif
