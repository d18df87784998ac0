#!/usr/bin/env bash
# The demo behind `make demo`: generate a small Llama-shaped model family (a base and three
# fine-tunes), merge it with an example recipe, and inspect the result; then merge the three
# real stories260K fine-tunes shipped in tests/data four ways and score every model on held-out text.
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
echo "== 4. what merging is for: three real fine-tunes of stories260K (Python, C headers, man pages)"
echo "   merged four ways, then every model scored on held-out text of each domain (perplexity, lower"
echo "   is better; 'vs specialists' = geometric mean over the three domains of PPL / PPL of that"
echo "   domain's own fine-tune: 1.00 matches each specialist on its own ground)"
cd "$root"
data=tests/data/stories260K
merged=build/demo/stories260K
mkdir -p "$merged"
"$alloy" merge examples/stories260K_soup.yml "$merged/soup" --force --quiet
for method in task_arithmetic ties dare_ties; do
  "$alloy" merge "examples/stories260K/$method.yml" "$merged/$method" --force --quiet
done
"$alloy" eval $data/base $data/python $data/cheaders $data/man \
  "$merged/soup" "$merged/task_arithmetic" "$merged/ties" "$merged/dare_ties" \
  --text $data/eval/python.txt --text $data/eval/cheaders.txt --text $data/eval/man.txt --text $data/eval/stories.txt \
  --specialist python=$data/python --specialist cheaders=$data/cheaders --specialist man=$data/man
echo
echo "demo outputs are in $work"
