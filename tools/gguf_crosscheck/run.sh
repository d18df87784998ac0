#!/usr/bin/env bash
# Optional: checks alloy's GGUF dequantisers bit for bit against llama.cpp's own reference
# dequantisers (ggml/src/ggml-quants.c) on 1000 random blocks per type, and alloy's quantisers
# byte for byte against its quantize_row_*_ref on 120 random rows per type. llama.cpp's source comes
# from the npm package node-llama-cpp (a git bundle inside it); it is compiled on its own, apart
# from alloy. Usage: tools/gguf_crosscheck/run.sh BUILD_DIR   (a build dir with alloy_core built)
set -euo pipefail
build=$(realpath "${1:?usage: run.sh BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)/src
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent node-llama-cpp > /dev/null
tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle
git -c advice.detachedHead=false clone -q package/llama/gitRelease.bundle llama
ggml=llama/ggml
gcc -O1 -c "$ggml/src/ggml-quants.c" -I"$ggml/include" -I"$ggml/src" -o quants.o
objs="$build/CMakeFiles/alloy_core.dir/src/tensor"
alloy_objs=("$objs/ggml_quants.cpp.o" "$objs/ggml_quantise.cpp.o" "$objs/ggml_quantise_k.cpp.o"
            "$objs/convert.cpp.o" "$objs/convert_simd.cpp.o" "$objs/dtype.cpp.o")
g++ -std=c++20 -O1 -I"$src" "$here/dequantise_vs_llama_cpp.cpp" quants.o "${alloy_objs[@]}" -lm -o check
g++ -std=c++20 -O1 -I"$src" "$here/quantise_vs_llama_cpp.cpp" quants.o "${alloy_objs[@]}" -lm -o qcheck
status=0
./check || status=1
./qcheck || status=1
exit $status
