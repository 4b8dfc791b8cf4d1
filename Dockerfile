# gti-relay container: a static musl binary on an empty base image.
# Build: docker build -t gti-relay .    Run: docker run -p 9090:9090 gti-relay

FROM rust:1-alpine AS builder
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
COPY src ./src
# Integration tests are not built here, but Cargo wants every declared target.
COPY tests ./tests
RUN cargo build --release --locked --bin gti-relay \
    && cp target/release/gti-relay /gti-relay

FROM scratch
# TLS roots are compiled into the binary (webpki roots): no CA bundle needed.
COPY --from=builder /gti-relay /gti-relay
USER 10001:10001
EXPOSE 9090
ENV PORT=9090
ENTRYPOINT ["/gti-relay"]
