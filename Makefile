# canh — the README's commands. `make up` and `make test` set up a fresh Debian/Ubuntu
# machine first (scripts/setup.sh installs only what is missing).

CARGO ?= cargo
# `make test` builds one profile (dev, with optimised dependencies); `make up` builds release.
export CARGO_TERM_COLOR ?= never

.PHONY: setup build up test lint fmt bench bench-e2e fuzz-build clean

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release -p canh-engine

## Run the engine on its embedded default (syslog UDP+TCP 127.0.0.1:5514, API 127.0.0.1:8470).
up: build
	./target/release/canh up

## Every check CI runs: format, clippy -D warnings, all tests (benches built and run once in
## test mode), the fuzz targets built.
test: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p canh-rules --all-targets --no-default-features -- -D warnings
	$(CARGO) test --workspace --all-targets --no-fail-fast
	$(CARGO) test --workspace --doc
	$(CARGO) test -p canh-rules --no-default-features
	$(MAKE) fuzz-build

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p canh-rules --all-targets --no-default-features -- -D warnings

fmt:
	$(CARGO) fmt --all

## Criterion benches (parse throughput vs syslog_loose, WAL, indexing).
bench: setup
	$(CARGO) bench -p canh-benches

## End-to-end throughput: canh up vs rsyslog on the same generated TCP stream.
bench-e2e: setup
	$(CARGO) build --release -p canh-engine -p canh-benches
	bash benches/e2e.sh

## Fuzz targets live outside the workspace; they build on stable with RUSTC_BOOTSTRAP=1.
fuzz-build:
	cd collectors/fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) build --bins
	cd rules/fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) build --bins

clean:
	$(CARGO) clean
