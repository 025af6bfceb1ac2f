#!/usr/bin/env bash
# Build the host and the example plugins (installing the guest toolchain if
# needed), then serve target/plugins. Arguments go to `serve`, e.g.
#   scripts/run.sh                          # MCP over stdio
#   scripts/run.sh --http 127.0.0.1:8080    # Streamable HTTP at /mcp
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-plugins.sh >&2
host=$PWD/target/release/mcp-wasm-host
cat >&2 <<EOF
run.sh: serving $PWD/target/plugins over MCP.
run.sh: next: give your MCP client the command $host
run.sh: with the arguments "serve --plugins $PWD/target/plugins" (README, "Use it from an MCP
run.sh: client"), or try "$host list" and "$host call add '{"a": 1, "b": 2}'" in another terminal.
EOF
exec "$host" serve --config target/examples.toml "$@"
