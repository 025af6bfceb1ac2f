#!/usr/bin/env bash
# Build the host and the example plugins (installing the guest toolchain if
# needed), then serve target/plugins. Arguments go to `serve`, e.g.
#   scripts/run.sh                          # MCP over stdio
#   scripts/run.sh --http 127.0.0.1:8080    # Streamable HTTP at /mcp
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-plugins.sh >&2
exec target/release/mcp-wasm-host serve --plugins target/plugins "$@"
