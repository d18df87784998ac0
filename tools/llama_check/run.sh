#!/usr/bin/env bash
# Optional (`make llama-check`, not part of `make test`): alloy's GGUF outputs of stories260K merges
# against llama.cpp itself. Each merge is written by alloy as GGUF (f32, f16, q8_0, q4_0) and as
# safetensors; the safetensors output goes through llama.cpp's own converter (convert_hf_to_gguf.py,
# f32 and f16) and its own quantiser (llama-quantize, Q8_0 and Q4_0 from the converter's f32 file);
# llama-perplexity scores every file on the held-out eval texts. Passes when alloy's perplexity is
# within 0.1% of llama.cpp's for f32/f16 and within 1% for q8_0/q4_0.
# llama.cpp's source comes from the npm package node-llama-cpp (a git bundle inside it); it is built
# once into WORK_DIR (about 10 minutes on 2 cores). The converter needs Debian's python3-torch,
# python3-numpy, python3-sentencepiece and python3-tqdm.
# Usage: tools/llama_check/run.sh ALLOY_BINARY [WORK_DIR (default build-llama-check)]
set -euo pipefail
alloy=$(realpath "${1:?usage: run.sh ALLOY_BINARY [WORK_DIR]}")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(realpath -m "${2:-$root/build-llama-check}")
data=$root/tests/data/stories260K
mkdir -p "$work"
cd "$work"

if [ ! -x llama-build/bin/llama-perplexity ] || [ ! -x llama-build/bin/llama-quantize ]; then
  if [ ! -d llama ]; then
    npm pack --silent node-llama-cpp > /dev/null
    tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle
    git -c advice.detachedHead=false clone -q package/llama/gitRelease.bundle llama
  fi
  echo "building llama-perplexity and llama-quantize into $work/llama-build (once)"
  cmake -S llama -B llama-build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF > llama-cmake.log
  cmake --build llama-build -j"$(nproc)" --target llama-perplexity llama-quantize > llama-build.log
fi
bin=$work/llama-build/bin

python=/usr/bin/python3
if ! $python -c 'import torch, numpy, sentencepiece, tqdm' 2> /dev/null; then
  echo "llama.cpp's converter needs: apt-get install python3-torch python3-numpy python3-sentencepiece python3-tqdm" >&2
  exit 1
fi
# Debian packages no transformers; the converter reads config.json itself when AutoConfig fails,
# which is all it asks of transformers for a Llama checkpoint with tokenizer.model. Debian's torch
# (1.13) predates dtypes the converter names in a lookup table; the checkpoints here hold none of
# them, so placeholders let the table be built.
mkdir -p shim/transformers
cat > shim/transformers/__init__.py << 'PY'
class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise RuntimeError("transformers is not installed")
PY
cat > shim/run_converter.py << 'PY'
import runpy, sys, torch
for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, type(name, (), {})())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
PY
convert() {  # SAFETENSORS_DIR TYPE OUT
  PYTHONPATH="$work/shim:$work/llama/gguf-py:$work/llama" $python shim/run_converter.py llama/convert_hf_to_gguf.py \
    "$1" --outtype "$2" --outfile "$3" > "$3.log" 2>&1 || { cat "$3.log" >&2; exit 1; }
}
cat "$data"/eval/python.txt "$data"/eval/cheaders.txt "$data"/eval/man.txt > eval.txt
# One thread: stories260K's matrices are too small to share, and a second thread waiting on the
# first made a pass 50 times slower on a busy machine.
ppl() {  # GGUF -> perplexity over eval.txt in windows of 128 tokens (the fine-tunes' context)
  "$bin"/llama-perplexity -m "$1" -f eval.txt -c 128 -b 128 -t 1 > "$1.ppl.log" 2>&1 ||
    { tail -20 "$1.ppl.log" >&2; exit 1; }
  # llama.cpp logs from a thread that a busy machine can leave behind at exit, losing the "Final
  # estimate" line; the running estimate after the last chunk is the same number.
  local final
  final=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$1.ppl.log")
  [ -n "$final" ] || final=$(grep -o '\[[0-9]*\][0-9.]*' "$1.ppl.log" | tail -1 | sed 's/.*\]//')
  echo "$final"
}

write_recipes() {
  cat > linear.yml << YML
merge_method: linear
models:
  - model: $data/python
    parameters: {weight: 1.0}
  - model: $data/cheaders
    parameters: {weight: 1.0}
  - model: $data/man
    parameters: {weight: 1.0}
dtype: float32
YML
  cat > task_arithmetic.yml << YML
merge_method: task_arithmetic
base_model: $data/base
models:
  - model: $data/python
    parameters: {weight: 0.6}
  - model: $data/cheaders
    parameters: {weight: 0.6}
  - model: $data/man
    parameters: {weight: 0.6}
dtype: float32
YML
}
write_recipes

failed=0
printf '\n%-16s %-5s %12s %12s %9s %s\n' merge type "alloy PPL" "llama.cpp" "diff" "bound"
for merge in linear task_arithmetic; do
  rm -rf "$merge-st" "$merge"-alloy-*.gguf
  "$alloy" merge "$merge.yml" "$merge-st" > /dev/null
  # The converter takes minutes (most of it importing torch): its files are reused while the
  # safetensors merge they were made from is byte for byte the same.
  sum=$(cat "$merge-st"/config.json "$merge-st"/*.safetensors | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$merge-ref.sha256" 2> /dev/null)" != "$sum" ] || [ ! -s "$merge-ref-f16.gguf" ]; then
    rm -f "$merge-ref.sha256" "$merge"-ref-*.gguf
    convert "$merge-st" f32 "$merge-ref-f32.gguf"
    convert "$merge-st" f16 "$merge-ref-f16.gguf"
    echo "$sum" > "$merge-ref.sha256"
  fi
  for type in q8_0 q4_0; do
    "$bin"/llama-quantize "$merge-ref-f32.gguf" "$merge-ref-$type.gguf" "${type^^}" > "$merge-ref-$type.log" 2>&1
  done
  for type in f32 f16 q8_0 q4_0; do
    "$alloy" merge "$merge.yml" "$merge-alloy-$type.gguf" --out-type "$type" > /dev/null
    mine=$(ppl "$merge-alloy-$type.gguf")
    ref=$(ppl "$merge-ref-$type.gguf")
    bound=$([ "${type:0:1}" = f ] && echo 0.001 || echo 0.01)
    verdict=$(awk -v a="$mine" -v r="$ref" -v b="$bound" \
      'BEGIN { d = a / r - 1; printf "%+.5f%% %s", 100 * d, (d <= b && d >= -b) ? "ok" : "FAIL" }')
    printf '%-16s %-5s %12s %12s %s (%s%%)\n' "$merge" "$type" "$mine" "$ref" "$verdict" \
      "$(awk -v b="$bound" 'BEGIN { print 100 * b }')"
    [[ $verdict == *FAIL ]] && failed=1
  done
done
exit $failed
