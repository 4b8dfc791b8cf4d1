# gti-relay container: one fully static binary on an empty base image.
#   docker build -t gti-relay .
#   docker run -p 9090:9090 gti-relay            # the relay (configure with -e, see README.md)
#   docker run -p 9090:9090 gti-relay demo       # the demo: simulated GTI, demo token
#
# The build stage is the twin of `make static` (glibc, crt-static). The final
# stage is shared word for word with Dockerfile.local (`make image` builds it
# from a `make static` binary without pulling anything); `make lint-docker`
# fails if the two final stages differ.

FROM rust:1-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
COPY src ./src
COPY observables.json ./
# Integration tests are not built here, but Cargo wants every declared target,
# and every workspace member's manifest (testkit: the tests' and benches' support).
COPY tests ./tests
COPY testkit ./testkit
RUN RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --bin gti-relay --target x86_64-unknown-linux-gnu \
    && cp target/x86_64-unknown-linux-gnu/release/gti-relay /gti-relay

# --- final stage: keep identical in Dockerfile and Dockerfile.local ---
FROM scratch
# TLS roots are compiled into the binary (webpki roots): no CA bundle needed.
COPY --from=builder /gti-relay /gti-relay
# Any unprivileged numeric id works; numeric so runtimes can check non-root.
USER 10001:10001
ENV HOST=0.0.0.0 PORT=9090
# No allocator variables: the relay sets glibc's malloc up itself
# (src/memory.rs), so memory comes back with or without this image.
EXPOSE 9090
# scratch has no shell and no curl: the binary probes its own /watchdog.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/gti-relay", "healthcheck"]
# SIGTERM stops the relay gracefully: requests in progress are answered.
ENTRYPOINT ["/gti-relay"]
