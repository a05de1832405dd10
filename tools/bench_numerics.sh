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
estimate() { # criterion's mean estimate (ns) of a benchmark id
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mean']['point_estimate'])" \
    "target/criterion/train_step/$1/cpu/new/estimates.json"
}
"$TWOWAY" data check --dataset embedded --data-root "$tmp/data" >/dev/null 2>&1   # generated once, untimed
for r in $(seq "$ROUNDS"); do
  for mode in native portable; do
    TWOWAY_BENCH_NUMERICS=$mode cargo bench -q -p twoway-reproduce --bench train_step -- --noplot 'cpu$' >/dev/null
    id=resnet50_b16_224; [ "$mode" = portable ] && id=${id}_portable
    estimate "$id" >>"$tmp/step-$mode"
    start=$(date +%s.%N)
    "$TWOWAY" run --grid embedded-ci --numerics "$mode" --threads 2 --out "$tmp/grid-$mode-$r" \
      --data-root "$tmp/data" >/dev/null 2>&1
    echo "$(date +%s.%N) - $start" | bc >>"$tmp/grid-$mode"
  done
done
python3 - "$tmp" "$ROUNDS" <<'PY'
import statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
for what, scale, unit in (("step", 1e9, "s a step"), ("grid", 1.0, "s")):
    n, p = (statistics.median(float(x) / scale for x in open(f"{tmp}/{what}-{m}")) for m in ("native", "portable"))
    print(f"{what:5} native {n:8.3f} {unit}  portable {p:8.3f} {unit}  portable / native {p / n:.2f}x  (median of {rounds})")
PY
lscpu | grep -m1 'Model name'
