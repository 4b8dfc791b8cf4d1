# gti-relay: build, run and check the relay. `make test` is what CI runs.

CARGO ?= cargo
TARGET ?= x86_64-unknown-linux-gnu
PORT ?= 9090

.PHONY: all build run test fmt lint static bench clean

all: build

build:
	$(CARGO) build --release --locked

## Serve on $(PORT) with a release build (configure with the variables in README.md).
run: build
	PORT=$(PORT) ./target/release/gti-relay

## Everything CI checks: formatting, lints, unit and integration tests.
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) test --locked

fmt:
	$(CARGO) fmt

## The relay against the physical limit: a release relay process, the mock GTI
## at L = 20 and 50 ms, a mock JWKS; prints a table (see BENCHMARKS.md).
## Options: make bench BENCH_ARGS='--latency-ms 50 --caps 64,512 --requests 30'
BENCH_ARGS ?=
bench: build
	$(CARGO) bench --locked --bench relay -- $(BENCH_ARGS)

## A fully static x86_64 binary (glibc, crt-static): the twin of the Dockerfile's build stage.
static:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --locked --target $(TARGET)
	@file target/$(TARGET)/release/gti-relay
	@if ldd target/$(TARGET)/release/gti-relay >/dev/null 2>&1; then \
		echo "error: the binary is dynamically linked"; exit 1; \
	else echo "static: target/$(TARGET)/release/gti-relay"; fi

clean:
	$(CARGO) clean
