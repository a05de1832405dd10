# twoway: set-up, build, test, reproduce, bench. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
PYTHON ?= python3
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.twoway-setup-torch-$(TORCH_VERSION)
# libtorch is the one inside the venv's torch wheel; `setup` links it as $(VENV)/libtorch, which
# .cargo/config.toml also names, so plain `cargo build` / `cargo test` work after `make setup`.
LIBTORCH := $(CURDIR)/$(VENV)/libtorch
CARGO_ENV = LIBTORCH="$(LIBTORCH)"
TWOWAY := target/release/twoway
# The torch-free build (no libtorch, no Python): its own target folder, so the two builds never overwrite
# each other's `twoway`.
LITE_TARGET := target/torch-free
TWOWAY_LITE := $(LITE_TARGET)/release/twoway

.PHONY: setup build build-lite wheel install-wheel test test-python test-big reproduce paper-smoke bench gpu-check mutants fuzz fmt lint clean-venv

## setup: project-local venv with torch==$(TORCH_VERSION) (libtorch for tch) and the Python tools. Idempotent.
setup: $(STAMP)

$(STAMP): tools/requirements.txt Makefile
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@torch=$$(ls -d $(CURDIR)/$(VENV)/lib/python3*/site-packages/torch | head -n1); \
	  test -f "$$torch/lib/libtorch_cpu.so" || { echo "the torch wheel has no lib/libtorch_cpu.so under $$torch" >&2; exit 1; }; \
	  ln -sfn "$$torch" $(VENV)/libtorch
	@touch $@

## build: release build of the `twoway` binary (libtorch found through its rpath, no LD_LIBRARY_PATH).
build: setup
	$(CARGO_ENV) cargo build --release --bin twoway
	env -u LD_LIBRARY_PATH $(TWOWAY) --version

## build-lite: release build of the torch-free `twoway` (tables, diff, claims, plots, map, reference eval,
## spec, data): needs neither libtorch nor Python, so neither `make setup`.
build-lite:
	CARGO_TARGET_DIR=$(LITE_TARGET) cargo build --release -p twoway-reproduce --no-default-features --bin twoway
	ldd $(TWOWAY_LITE) | grep -qiE 'torch|cuda' && { echo "$(TWOWAY_LITE) links libtorch" >&2; exit 1; } || true

WHEELS := target/wheels
VERSION = $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)

## wheel: the Python package `twoway` (abi3, CPython >= 3.9; no libtorch) as a wheel in target/wheels/.
wheel: setup
	$(VENV)/bin/maturin build --release -m python/Cargo.toml --out $(WHEELS)

## test: the whole workspace's tests (pure Rust and libtorch), on CPU; then the torch-free configuration's;
## then the Python package's (test-python). Every test binary runs even when one fails (--no-fail-fast,
## and the later runs after a failing one); the target fails if any did.
test: setup
	status=0; \
	$(CARGO_ENV) INSTA_UPDATE=no cargo test --workspace --exclude twoway-python --no-fail-fast || status=1; \
	CARGO_TARGET_DIR=$(LITE_TARGET) INSTA_UPDATE=no cargo test -p twoway-reproduce --no-default-features --no-fail-fast \
	  || status=1; \
	$(MAKE) --no-print-directory test-python || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: some tests failed (see above)" >&2; fi; \
	exit $$status

## install-wheel: builds the wheel and installs it into the project's venv (never a second torch).
install-wheel: wheel
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	  --no-index --find-links $(WHEELS) "twoway==$(VERSION)"

## test-python: builds the wheel, installs it into the project's venv (whose torch it uses) and runs the
## package's pytest suite against the installed package (python/ is not on the path), with the `twoway`
## command of the workspace's debug build for the comparisons.
test-python: install-wheel
	test -x target/debug/twoway || $(CARGO_ENV) cargo build --bin twoway
	cd python/tests && TWOWAY_BIN=$(CURDIR)/target/debug/twoway $(CURDIR)/$(VENV)/bin/python -m pytest -q \
	  -p no:cacheprovider --import-mode=importlib .

## test-big: the opt-in tests of the big members: every torchvision backbone not in `make test` against
## torchvision (regnety_32gf's 580 MB fixture, regnet_y_128gf's 2.6 GB), and regnet_y_128gf's parameter count.
test-big: setup
	$(CARGO_ENV) cargo test --release -p twoway-reproduce --test backbones -- --ignored
	$(CARGO_ENV) TWOWAY_TEST_BIG=1 cargo test --release -p twoway-reproduce --lib -- backbones::tests::parameter_counts_equal_torchvision

RESULTS ?= results/embedded
# SEEDS=0,1,2,3,4 replaces the grid's seeds (0, 1, 2: the table shows mean ± sd, the claims a paired test).
SEEDS ?=
# The thread count is part of the numerics: 2 reproduces the README's table bit for bit on any x86-64 CPU.
THREADS ?= 2

## reproduce: the main job: the embedded grid (9 cells x 3 seeds, portable numerics; resumable), then its
## table, the claims and the plots.
reproduce: build
	$(TWOWAY) run --grid embedded --out $(RESULTS) --resume --threads $(THREADS) $(if $(SEEDS),--seeds $(SEEDS))
	@echo
	$(TWOWAY) table --results $(RESULTS) --datasets embedded
	@echo
	$(TWOWAY) table --ways --results $(RESULTS) --datasets embedded
	@echo
	$(TWOWAY) claims --results $(RESULTS)
	@echo
	@echo "results: $(RESULTS)/ (one JSON per cell); plots: $(RESULTS)/plots/"

SMOKE := target/paper-smoke
SMOKE_BACKBONES := resnet50 resnext50_32x4d densenet169 regnety_32gf

$(SMOKE)/data/.done: | build
	$(TWOWAY) data fixtures --out $(SMOKE)/data --samples 24
	@touch $@

$(SMOKE)/weights/%.safetensors: tools/export_torchvision.py | setup
	$(VENV)/bin/python tools/export_torchvision.py --backbone $* --random-init --out $@

## paper-smoke: all 84 cells of the paper's grid on fixtures in the datasets' own layouts and random-init
## torchvision weights (the `smoke` recipe: the release recipe on 32-px images, two iterations a cell),
## then the 168-number table, the claims and the gate against the published numbers (which fails, as it
## must on random weights: the smoke checks that it runs). Fixtures and weights are made once.
paper-smoke: build $(SMOKE)/data/.done $(foreach b,$(SMOKE_BACKBONES),$(SMOKE)/weights/$(b).safetensors)
	rm -rf $(SMOKE)/results
	time $(TWOWAY) run --grid paper --recipe smoke --data-root $(SMOKE)/data --weights-dir $(SMOKE)/weights \
	  --out $(SMOKE)/results --threads 2
	$(TWOWAY) table --all --results $(SMOKE)/results
	$(TWOWAY) claims --results $(SMOKE)/results
	$(TWOWAY) diff --against published --results $(SMOKE)/results || test $$? -eq 1
	$(TWOWAY) status --out $(SMOKE)/results

DEVICE ?= cuda

## gpu-check: the CUDA checks in one script (conformance in every kind, fp16 / bf16 training paths,
## backbones against torchvision with TF32 off, GPU bench ratios); DEVICE=cpu is its dry run (in CI).
gpu-check: setup
	$(CARGO_ENV) DEVICE=$(DEVICE) tools/gpu_check.sh

MUTANTS_ARGS ?=

## mutants: mutation testing of the loss and metric code with cargo-mutants (installed when absent): the
## reference's code judged by its tests, the gpu crate's loss code by the shared suite in tests/. Long on 2
## cores (see docs/verification.md); MUTANTS_ARGS="--shard 0/4" runs a quarter, "--file reference/src/ways.rs" one file.
mutants: setup
	@command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants
	$(CARGO_ENV) cargo mutants --gitignore true -p twoway-reference $(MUTANTS_ARGS)
	$(CARGO_ENV) cargo mutants --gitignore true -p twoway-gpu --test-package twoway-gpu --test-package twoway-tests $(MUTANTS_ARGS)

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := matrix table_csv spec_yaml result_json datasets

## fuzz: libFuzzer on every parser of a user's file, FUZZ_SECONDS each (cargo-fuzz, installed when absent;
## its sanitizer flag needs RUSTC_BOOTSTRAP=1, set for the fuzz crate alone). A crash stops it; keep the
## input under fuzz/regressions/<target>/ once fixed (reproduce/tests/fuzz_regressions.rs replays them).
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -malloc_limit_mb=1024 || exit 1; \
	done

## bench: criterion benchmarks, then the Python peers timed in the same run, and the ratios; then the Python
## package (installed from a fresh wheel) against torchmetrics, scikit-learn and the release's loop and loss.
bench: build build-lite
	$(CARGO_ENV) cargo bench --workspace --exclude twoway-python
	$(VENV)/bin/python tools/bench_peers.py --twoway $(TWOWAY) --twoway-lite $(TWOWAY_LITE)
	$(MAKE) --no-print-directory install-wheel
	$(VENV)/bin/python tools/bench_python.py --twoway-lite $(TWOWAY_LITE)

fmt:
	cargo fmt --all

lint: setup
	cargo fmt --all -- --check
	$(PYTHON) tools/check_layers.py --self-test
	$(PYTHON) tools/check_layers.py
	$(CARGO_ENV) cargo clippy --workspace --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(LITE_TARGET) cargo clippy -p twoway-reproduce --no-default-features --all-targets -- -D warnings

clean-venv:
	rm -rf $(VENV)
