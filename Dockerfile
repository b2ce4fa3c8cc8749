# syntax=docker/dockerfile:1
#
# customdb as a container image: a build stage with the Rust toolchain, and a
# runtime stage with the binary and nothing else of the build.
#
#   docker build -t customdb .
#   docker run --rm -p 8080:8080 --stop-timeout 45 \
#     -v "$PWD/my-config.toml:/etc/customdb/config.toml:ro" \
#     -v "$PWD/scripts/shop:/etc/customdb/scripts/shop:ro" \
#     -e CUSTOMDB__HTTP__API_TOKENS=... \
#     -e CUSTOMDB__CONNECTIONS__SHOP__DATABASE_URL=mysql://... \
#     customdb
#
# The image holds no settings, scripts or secrets: the settings file and the
# scripts are mounted, tokens and database URLs come from the environment
# (README, "Running several replicas").

# The toolchain is pinned; Cargo.lock pins the dependencies (--locked).
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crates and the build between runs of
# `docker build`; the binary is copied out of the cached target folder.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin customdb \
    && install -D -m 0755 target/release/customdb /out/customdb

# glibc and libgcc, which the binary links, and the CA certificates in
# /etc/ssl/certs, which TLS to the store checks; no shell, no package
# manager. (A private CA: a connection's tls_ca, or SSL_CERT_FILE naming a
# mounted bundle.)
FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/customdb /usr/local/bin/customdb
# Numeric, so that Kubernetes' runAsNonRoot can check it is not root.
USER 65532:65532
# Where the settings file is mounted; the default listen address is
# loopback, which nothing outside the container reaches.
ENV CUSTOMDB_CONFIG=/etc/customdb/config.toml \
    CUSTOMDB__HTTP__LISTEN=0.0.0.0:8080
EXPOSE 8080
# Exec form: customdb is PID 1 and gets SIGTERM itself, which starts its
# drain. `docker run IMAGE check` runs another command.
ENTRYPOINT ["/usr/local/bin/customdb"]
CMD ["serve"]
