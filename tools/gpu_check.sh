#!/usr/bin/env bash
# The GPU check (`make gpu-check`): one script, sized to finish within 8 minutes on one H200 once the
# workspace is built, that runs on CUDA what CI can only run on the CPU:
#   1. the conformance suite in f64, f32, f16 and bf16 (`--features cuda`);
#   2. the training precision paths: fp16 autocast with dynamic loss scaling, bf16 autocast;
#   3. the backbones' forward against torchvision, with TF32 off;
#   4. the GPU benchmark ratios: the two-way loss (forward + backward) against the release's op sequence,
#      and a resnet50 training step against PyTorch eager, on the same libtorch.
# DEVICE=cpu (`make gpu-check DEVICE=cpu`, run in CI) is its dry run: the same steps on the CPU, the
# benchmarks in their quick form, so that the script cannot rot while no GPU is lent.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
export TWOWAY_TEST_DEVICE=$DEVICE
features=()
if [ "$DEVICE" != cpu ]; then
  features=(--features cuda)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
step() { printf '\n== %s (%s)\n' "$1" "$DEVICE"; }
start=$(date +%s)

step "conformance suite, every kind"
cargo test --release -p twoway-tests "${features[@]}" --test conformance_tch

step "training precision paths"
cargo test --release -p twoway-reproduce --test device_paths

step "backbones against torchvision"
cargo test --release -p twoway-reproduce --test backbones -- equals_torchvision

step "benchmark ratios"
if [ "$DEVICE" = cpu ]; then
  # The dry run: the benchmark binaries build and run one short pass each.
  cargo bench -p twoway-gpu --bench tch -- --warm-up-time 0.1 --measurement-time 0.2 "512x80" >/dev/null
  cargo bench -p twoway-reproduce --bench train_step -- --list >/dev/null
  echo "benchmarks build and run (dry run: no ratios)"
else
  cargo bench -p twoway-gpu --bench tch -- cuda
  cargo bench -p twoway-reproduce --bench train_step -- cuda
  .venv/bin/python tools/bench_peers.py --only loss
  .venv/bin/python tools/bench_peers.py --only train
fi
printf '\ngpu-check on %s passed in %d s\n' "$DEVICE" "$(( $(date +%s) - start ))"
