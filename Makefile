# gti-relay: build, run and check the relay. `make test` is what CI runs.

CARGO ?= cargo
TARGET ?= x86_64-unknown-linux-gnu
PORT ?= 9090

.PHONY: all build run test fmt lint static fuzz clean

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

## A fully static x86_64 binary (glibc, crt-static): the twin of the Dockerfile's build stage.
static:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --locked --target $(TARGET)
	@file target/$(TARGET)/release/gti-relay
	@if ldd target/$(TARGET)/release/gti-relay >/dev/null 2>&1; then \
		echo "error: the binary is dynamically linked"; exit 1; \
	else echo "static: target/$(TARGET)/release/gti-relay"; fi

## Fuzz each target in fuzz/ for $(FUZZ_SECS) seconds (needs nightly and
## `cargo install cargo-fuzz`); not part of `make test`.
FUZZ_CARGO ?= cargo +nightly
FUZZ_SECS ?= 60
FUZZ_TARGETS ?= payload token mapper

fuzz:
	@for target in $(FUZZ_TARGETS); do \
		echo "fuzz: $$target for $(FUZZ_SECS) s"; \
		$(FUZZ_CARGO) fuzz run $$target -- -max_total_time=$(FUZZ_SECS) || exit 1; \
	done

clean:
	$(CARGO) clean
