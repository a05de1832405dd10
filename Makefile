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

.PHONY: setup build build-lite test test-big reproduce bench fmt lint clean-venv

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

## test: the whole workspace's tests (pure Rust and libtorch), on CPU; then the torch-free configuration's.
test: setup
	$(CARGO_ENV) INSTA_UPDATE=no cargo test --workspace
	CARGO_TARGET_DIR=$(LITE_TARGET) INSTA_UPDATE=no cargo test -p twoway-reproduce --no-default-features

## test-big: the opt-in tests of the big members (regnety_32gf against torchvision: a 580 MB fixture).
test-big: setup
	$(CARGO_ENV) cargo test --release -p twoway-reproduce --test backbones -- --ignored

RESULTS ?= results/embedded
# SEEDS=0,1,2 runs the grid on several seeds (the table then shows mean ± sd, the claims a paired test).
SEEDS ?=

## reproduce: the main job: the embedded grid (9 cells; resumable), then its table, the claims and the plots.
reproduce: build
	$(TWOWAY) run --grid embedded --out $(RESULTS) --resume $(if $(SEEDS),--seeds $(SEEDS))
	@echo
	$(TWOWAY) table --results $(RESULTS) --datasets embedded
	@echo
	$(TWOWAY) table --ways --results $(RESULTS) --datasets embedded
	@echo
	$(TWOWAY) claims --results $(RESULTS)
	@echo
	@echo "results: $(RESULTS)/ (one JSON per cell); plots: $(RESULTS)/plots/"

## bench: criterion benchmarks, then the Python peers timed in the same run, and the ratios.
bench: build build-lite
	$(CARGO_ENV) cargo bench --workspace
	$(VENV)/bin/python tools/bench_peers.py --twoway $(TWOWAY) --twoway-lite $(TWOWAY_LITE)

fmt:
	cargo fmt --all

lint: setup
	cargo fmt --all -- --check
	$(CARGO_ENV) cargo clippy --workspace --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(LITE_TARGET) cargo clippy -p twoway-reproduce --no-default-features --all-targets -- -D warnings

clean-venv:
	rm -rf $(VENV)
