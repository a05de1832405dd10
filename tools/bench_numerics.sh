#!/usr/bin/env bash
# The portable numerics mode's cost, measured side by side in one run: a resnet50 training step (criterion's
# train_step benchmark, batch 16, 224 px, f32, CPU) in native and portable numerics, alternated ROUNDS times,
# and the embedded-ci grid (`twoway run`, 3 cells) in both modes, alternated too. Prints each time and the
# ratios (portable / native). Run from the repository root after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
TWOWAY=${TWOWAY:-target/release/twoway}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
estimate() { # criterion's mean estimate (ns) of a benchmark id
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mean']['point_estimate'])" \
    "target/criterion/train_step/$1/cpu/new/estimates.json"
}
"$TWOWAY" data check --dataset embedded --data-root "$tmp/data" >/dev/null 2>&1   # generated once, untimed
for r in $(seq "$ROUNDS"); do
  for mode in native portable; do
    TWOWAY_BENCH_NUMERICS=$mode cargo bench -q -p twoway-reproduce --bench train_step -- --noplot 'cpu$' >/dev/null
    id=resnet50_b16_224; [ "$mode" = portable ] && id=${id}_portable
    echo "$(estimate "$id")" >>"$tmp/step-$mode"
    start=$(date +%s.%N)
    "$TWOWAY" run --grid embedded-ci --numerics "$mode" --threads 2 --out "$tmp/grid-$mode-$r" \
      --data-root "$tmp/data" >/dev/null 2>&1
    echo "$(date +%s.%N) - $start" | bc >>"$tmp/grid-$mode"
  done
done
for what in step grid; do
  n=$(median <"$tmp/$what-native"); p=$(median <"$tmp/$what-portable")
  unit=s; [ "$what" = step ] && { n=$(echo "$n / 1e9" | bc -l); p=$(echo "$p / 1e9" | bc -l); }
  printf '%-5s native %8.3f %s  portable %8.3f %s  portable / native %.2fx  (median of %d)\n' \
    "$what" "$n" "$unit" "$p" "$unit" "$(echo "$p / $n" | bc -l)" "$ROUNDS"
done
lscpu | grep -m1 'Model name'
