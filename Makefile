# twoway: set-up, build, test, reproduce, bench. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
PYTHON ?= python3
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.twoway-setup-torch-$(TORCH_VERSION)
# libtorch is the one inside the venv's torch wheel (found when a recipe runs, after `setup`).
LIBTORCH = $(shell ls -d $(CURDIR)/$(VENV)/lib/python3*/site-packages/torch 2>/dev/null | head -n1)
CARGO_ENV = LIBTORCH="$(LIBTORCH)"
TWOWAY := target/release/twoway

.PHONY: setup build test reproduce bench fmt lint clean-venv

## setup: project-local venv with torch==$(TORCH_VERSION) (libtorch for tch) and the Python tools. Idempotent.
setup: $(STAMP)

$(STAMP): tools/requirements.txt
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@lib=$$(ls -d $(VENV)/lib/python3*/site-packages/torch/lib); test -f "$$lib/libtorch_cpu.so" || { echo "torch wheel has no libtorch_cpu.so in $$lib" >&2; exit 1; }
	@touch $@

## build: release build of the `twoway` binary (libtorch found through its rpath, no LD_LIBRARY_PATH).
build: setup
	$(CARGO_ENV) cargo build --release --bin twoway
	env -u LD_LIBRARY_PATH $(TWOWAY) --version

## test: the whole workspace's tests (pure Rust and libtorch), on CPU.
test: setup
	$(CARGO_ENV) INSTA_UPDATE=no cargo test --workspace

## reproduce: the main job (until the embedded grid lands: the paper's table and claims).
reproduce: build
	$(TWOWAY) table
	@echo
	$(TWOWAY) claims

## bench: benchmarks, with ratios against peers run side by side.
bench: setup
	$(CARGO_ENV) cargo bench --workspace

fmt:
	cargo fmt --all

lint: setup
	cargo fmt --all -- --check
	$(CARGO_ENV) cargo clippy --workspace --all-targets -- -D warnings

clean-venv:
	rm -rf $(VENV)
