# mcp-wasm-host as a container: the host and the example plugins, served over
# Streamable HTTP on port 8080 as an unprivileged user.
#
#   docker build --build-arg MCP_WASM_HOST_COMMIT=$(git rev-parse --short=12 HEAD) \
#       -t mcp-wasm-host .
#   docker run -p 127.0.0.1:8080:8080 \
#       -v "$PWD/plugins:/srv/mcp/plugins" -v mcp-data:/var/lib/mcp-wasm-host \
#       -v "$PWD/auth.toml:/etc/mcp-wasm-host/auth.toml:ro" \
#       -e MCP_WASM_HOST_AUTH_FILE=/etc/mcp-wasm-host/auth.toml \
#       -e MCP_WASM_HOST_ALLOWED_HOST=mcp.example.com mcp-wasm-host
#
# Listening on all of the container's addresses, the host refuses to start
# without an auth file (docs/auth.md) unless MCP_WASM_HOST_ALLOW_UNAUTHENTICATED
# says something in front of it authenticates every request. docs/deploy.md
# covers systemd, Kubernetes, TLS and several replicas.

# --- build: the host, and the plugins with the toolchains the scripts install
FROM rust:1.95-bookworm AS build
# `--build-arg MCP_WASM_HOST_COMMIT=$(git rev-parse --short=12 HEAD)` puts the
# commit into `--version` (the repository itself is not copied in).
ARG MCP_WASM_HOST_COMMIT=
WORKDIR /src
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build-plugins.sh

# --- run: the binary and the plugins, nothing else -------------------------
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/mcp-wasm-host \
        --create-home mcp \
    && mkdir -p /srv/mcp/plugins \
    && chown mcp:mcp /srv/mcp/plugins
COPY --from=build /src/target/release/mcp-wasm-host /usr/local/bin/mcp-wasm-host
COPY --from=build --chown=mcp:mcp /src/target/plugins/ /srv/mcp/plugins/
USER mcp
ENV MCP_WASM_HOST_PLUGINS=/srv/mcp/plugins \
    MCP_WASM_HOST_DATA_DIR=/var/lib/mcp-wasm-host/data \
    MCP_WASM_HOST_CACHE_DIR=/var/lib/mcp-wasm-host/cache \
    MCP_WASM_HOST_HTTP=0.0.0.0:8080 \
    MCP_WASM_HOST_LOG_FORMAT=json
# The plugins, and the host's state (key-value store, compile cache, state key).
VOLUME ["/srv/mcp/plugins", "/var/lib/mcp-wasm-host"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
ENTRYPOINT ["mcp-wasm-host"]
CMD ["serve"]
