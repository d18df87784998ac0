#!/usr/bin/env bash
# The demo behind `make demo`: generate a small Llama-shaped model family (a base and three
# fine-tunes), merge it with an example recipe, and inspect the result; then average the three
# real stories260K fine-tunes shipped in tests/data.
set -euo pipefail
alloy=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build/demo"
mkdir -p "$work"
cd "$work"

echo "== 1. a fixture family: base + 3 fine-tunes (Llama-shaped, 4 layers)"
"$alloy" fixture family --family llama --layers 4 --hidden 64 --intermediate 176 --vocab 512 \
  --fine-tunes 3 --kinds dense,sparse,sign_conflict --dtype bfloat16 > /dev/null
"$alloy" inspect family/ft1

echo
echo "== 2. merge it with examples/linear.yml"
cat "$root/examples/linear.yml"
"$alloy" merge "$root/examples/linear.yml" soup --force
"$alloy" inspect soup

echo
echo "== 3. a frankenmerge (examples/frankenmerge.yml): 3 + 3 layers"
"$alloy" merge "$root/examples/frankenmerge.yml" franken --force
"$alloy" inspect franken

echo
echo "== 4. real weights: the three stories260K fine-tunes averaged (examples/stories260K_soup.yml)"
cd "$root"
"$alloy" merge examples/stories260K_soup.yml "$work/stories-soup" --force
echo
echo "demo outputs are in $work"
