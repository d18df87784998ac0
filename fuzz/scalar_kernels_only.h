// Forced into src/tensor/convert_simd.cpp in the fuzz build only: clang 14 does not know the
// "f16c" feature name GCC accepts, and the fuzz targets need no vector conversion kernels, so
// every CPU feature test answers no and the scalar kernels are used.
#pragma once
#define __builtin_cpu_supports(feature) false
