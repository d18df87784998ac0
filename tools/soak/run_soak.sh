#!/usr/bin/env bash
# Soak: a fixture family of SOAK_GB gigabytes per model (llama, 4 layers, bf16, a base and three
# fine-tunes: dense, sparse, sign_conflict) merged with every recipe of examples/ (every method),
# RUNS times at -j 1 and RUNS times at -j 2. A merge's bytes depend neither on the run nor on the
# thread count, so every output of one recipe must hash the same; prints one line per recipe and
# exits non-zero on any failed merge or differing hash. Not part of `make test` (docs/reliability.md).
# Usage: tools/soak/run_soak.sh <alloy binary> <work dir> <GB per model> [runs per thread count]
set -euo pipefail
alloy=$(realpath "$1")
work=$2
gb=$3
runs=${4:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
work=$(realpath "$work")

# Per layer 4h² attention + 3·h·2.75h MLP parameters, 4 layers, 2 bytes each: about 98·h² bytes
# (embeddings and lm_head, 2·256·h, are small beside it). The hidden size is a multiple of 64.
hidden=$(awk -v gb="$gb" 'BEGIN { h = int(sqrt(gb * 1e9 / 98) / 64) * 64; if (h < 64) h = 64; print h }')
family="$work/family"
stamp="$family/.soak-$gb"
if [ ! -e "$stamp" ]; then
  rm -rf "$family"
  echo "writing the fixture family: 4 layers, hidden $hidden, bf16 ($gb GB per model) into $family"
  "$alloy" fixture "$family" --family llama --layers 4 --hidden "$hidden" --dtype bfloat16 \
    --kinds dense,sparse,sign_conflict --shard-size 1GB >/dev/null
  touch "$stamp"
fi
du -sh "$family"/* | sed 's/^/  /'

# The hash of a whole output directory: every file's name and bytes.
hash_of() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

failed=0
printf '%-28s %5s %10s %10s  %s\n' recipe runs 'j1 s/run' 'j2 s/run' result
for recipe in "$root"/examples/*.yml; do
  name=$(basename "$recipe" .yml)
  case $name in stories260K_*) continue ;; esac  # real weights, not the fixture family
  cp "$recipe" "$work/$name.yml"
  declare -A seconds=([1]=0 [2]=0)
  hashes=()
  result=ok
  for j in 1 2; do
    for ((r = 1; r <= runs; r++)); do
      rm -rf "$work/out"
      start=$(date +%s.%N)
      if ! (cd "$work" && "$alloy" merge "$name.yml" out -q -j "$j" >"$work/$name.log" 2>&1); then
        result="FAILED at -j $j run $r: $(tail -n 1 "$work/$name.log")"
        break 2
      fi
      seconds[$j]=$(awk -v a="${seconds[$j]}" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print a + e - s }')
      hashes+=("$(hash_of "$work/out")")
    done
  done
  if [ "$result" = ok ]; then
    distinct=$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)
    if [ "$distinct" -ne 1 ]; then
      result="MISMATCH: ${hashes[*]}"
    else
      result="ok ${hashes[0]}"
    fi
  fi
  [[ $result == ok* ]] || failed=$((failed + 1))
  printf '%-28s %5s %10.1f %10.1f  %s\n' "$name" "$((2 * runs))" \
    "$(awk -v s="${seconds[1]}" -v n="$runs" 'BEGIN { print s / n }')" \
    "$(awk -v s="${seconds[2]}" -v n="$runs" 'BEGIN { print s / n }')" "$result"
  unset seconds
done
rm -rf "$work/out"
if [ "$failed" -ne 0 ]; then
  echo "soak: $failed recipe(s) failed or gave different bytes from run to run" >&2
  exit 1
fi
echo "soak: every recipe gave the same bytes in every run at -j 1 and -j 2"
