# gti-relay: build, run and check the relay. `make test` is what CI runs.

CARGO ?= cargo
TARGET ?= x86_64-unknown-linux-gnu
PORT ?= 9090

.PHONY: all build run test fmt lint static bench soak fuzz clean demo preview-test image image-test lint-docker lint-deploy audit

all: build

build:
	$(CARGO) build --release --locked

## Serve on $(PORT) with a release build (configure with the variables in README.md).
run: build
	PORT=$(PORT) ./target/release/gti-relay

## Everything CI checks: formatting, lints, docs, unit and integration tests.
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS='-D warnings' $(CARGO) doc --locked --workspace --no-deps --lib
	$(CARGO) test --locked --workspace

fmt:
	$(CARGO) fmt

## The relay against the physical limit: a release relay process, the mock GTI
## at L = 20 and 50 ms, a mock JWKS; prints a table (see BENCHMARKS.md).
## Sections (all by default; pick with --only, comma-separated): latency,
## resources, limit1000, plateau, demo, e.g. make bench BENCH_ARGS='--only limit1000'
## The latency section holds issue 10's rows (N = 1/5/20/50, fairness, the
## 32-client load: CPU per request, threads created per 1,000 GTI calls,
## RSS, idle CPU) with their targets. limit1000 uses GTI-sized events of
## every type and runs each column twice: as built (target/release, no
## allocator variables) and as shipped (the `make static` binary, built
## first, with the environment of the Dockerfile's final stage).
## Options: make bench BENCH_ARGS='--latency-ms 50 --caps 64,256,512 --workers 16,128 --requests 30'
## (--caps: GTI_MAX_INFLIGHT values, the relay's default unless given;
## --workers: WORKERS values measured beside the default under the 32-client load;
## --relay PATH / --shipped PATH: other binaries as built / as shipped)
BENCH_ARGS ?=
bench: build static
	$(CARGO) bench --locked --bench relay -- $(BENCH_ARGS)

## Sustained mixed load against a release relay: failures, p50/p99, RSS growth.
## Options: make soak SOAK_SECS=60 SOAK_CLIENTS=200
SOAK_SECS ?= 60
SOAK_CLIENTS ?= 200
soak:
	$(CARGO) bench --locked --bench soak -- --secs $(SOAK_SECS) --clients $(SOAK_CLIENTS)

## A fully static x86_64 binary (glibc, crt-static): the twin of the Dockerfile's build stage.
static:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --locked --target $(TARGET)
	@file target/$(TARGET)/release/gti-relay
	@# ldd exits 0 on a static-pie binary too; its words tell the two apart.
	@if ldd target/$(TARGET)/release/gti-relay 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then \
		echo "static: target/$(TARGET)/release/gti-relay"; \
	else echo "error: the binary is dynamically linked"; exit 1; fi

## The relay with a simulated GTI and a demo token on 127.0.0.1:$(PORT).
demo: build
	PORT=$(PORT) ./target/release/gti-relay demo

## The demo's dashboard preview in headless Chromium (Debian's `chromium`;
## not part of `make test`): fails on a JavaScript error or a tile without
## data; writes a screenshot to target/preview.png.
preview-test:
	$(CARGO) build --locked
	.ci/preview-test.sh

# --- Container (not part of `make test`; needs podman, or docker via PODMAN=docker) ---
PODMAN ?= podman --runtime runc
IMAGE ?= gti-relay:local
IMAGE_TEST_PORT ?= 19090

## The image of Dockerfile.local: Dockerfile's final stage around the
## `make static` binary, built without pulling anything.
image: static
	mkdir -p target/image
	cp target/$(TARGET)/release/gti-relay target/image/gti-relay
	$(PODMAN) build --format docker -f Dockerfile.local -t $(IMAGE) target/image
	@$(PODMAN) image inspect $(IMAGE) --format '{{.Size}}' | \
		awk '{ printf "image size: %d bytes (%.1f MB)\n", $$1, $$1 / 1000000 }'

## Runs the image's demo and checks /watchdog, /version, /observe, the
## HEALTHCHECK and the image size (at most 12 MB).
image-test:
	PODMAN='$(PODMAN)' IMAGE='$(IMAGE)' PORT='$(IMAGE_TEST_PORT)' .ci/image-test.sh

## hadolint on both Dockerfiles, and their final stages must be identical.
lint-docker:
	hadolint Dockerfile Dockerfile.local
	@mkdir -p target
	@sed -n '/^# --- final stage/,$$p' Dockerfile > target/final-stage.Dockerfile
	@sed -n '/^# --- final stage/,$$p' Dockerfile.local | \
		diff -u target/final-stage.Dockerfile - \
		|| { echo "error: the final stages of Dockerfile and Dockerfile.local differ"; exit 1; }
	@echo "lint-docker: ok (hadolint clean, final stages identical)"

## Every manifest in deploy/ against the Kubernetes schemas, offline and
## strict (unknown fields are errors), for each of $(KUBE_VERSIONS): the oldest
## and the newest Kubernetes whose schemas the pinned kubernetes-validate ships
## (.ci/requirements.txt), so an API removed or not yet there on either side
## fails. Then .ci/lint-deploy.py: the
## kinds present and how they fit (HPA → Deployment without replicas, selectors,
## the NetworkPolicy's port). Installs nothing: `pip install -r
## .ci/requirements.txt` (.ci/run does it when the tool is missing).
KUBERNETES_VALIDATE ?= kubernetes-validate
KUBE_VERSIONS ?= 1.25.0 1.37.0
PYTHON ?= python3
DEPLOY_MANIFESTS = $(wildcard deploy/*.yaml deploy/*.yml)

lint-deploy:
	@command -v $(KUBERNETES_VALIDATE) >/dev/null || { \
		echo "error: $(KUBERNETES_VALIDATE) not found; pip install -r .ci/requirements.txt"; exit 1; }
	@echo "kubernetes-validate $$($(KUBERNETES_VALIDATE) --version)"
	@for v in $(KUBE_VERSIONS); do \
		$(KUBERNETES_VALIDATE) --strict --kubernetes-version $$v $(DEPLOY_MANIFESTS) || exit 1; \
	done
	$(PYTHON) .ci/lint-deploy.py $(DEPLOY_MANIFESTS)
	@echo "lint-deploy: ok ($(DEPLOY_MANIFESTS) against Kubernetes $(KUBE_VERSIONS), strict)"

## Cargo.lock (and fuzz/Cargo.lock) against the RustSec advisories with
## cargo-audit: offline against $(AUDIT_DB) when that folder is there (a
## snapshot kept beside this repository), otherwise with the tool's own fetch
## of the database and a check for yanked crates, so a clone elsewhere works
## too. Advisories that cannot
## apply to the relay are ignored, each with its reason, in .cargo/audit.toml.
## Installs nothing: `cargo install cargo-audit --locked` (.ci/run does it).
AUDIT_DB ?= ../shared/advisory-db
AUDIT_LOCKFILES ?= Cargo.lock fuzz/Cargo.lock

audit:
	@$(CARGO) audit --version >/dev/null 2>&1 || { \
		echo "error: cargo-audit not found; cargo install cargo-audit --locked"; exit 1; }
	@if [ -d "$(AUDIT_DB)" ]; then \
		echo "audit: offline, advisory database $(AUDIT_DB) (yanked crates not checked: that needs crates.io)"; \
		db="--db $(AUDIT_DB) --no-fetch --no-yanked"; \
	else \
		echo "audit: no $(AUDIT_DB); fetching the advisory database"; \
		db=""; \
	fi; \
	for lock in $(AUDIT_LOCKFILES); do \
		echo "audit: $$lock"; \
		$(CARGO) audit $$db --file $$lock || exit 1; \
	done

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
