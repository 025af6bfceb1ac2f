#!/usr/bin/env bash
# Build the host and the example plugins (installing the guest toolchain if
# needed), then serve them with the examples' configuration,
# target/examples.toml (plugins, policy, the `crm` database), which the build
# writes. Arguments go to `serve`, e.g.
#   scripts/run.sh                          # MCP over stdio
#   scripts/run.sh --http 127.0.0.1:8080    # Streamable HTTP at /mcp
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-plugins.sh >&2
host=$PWD/target/release/mcp-wasm-host
config=$PWD/target/examples.toml
cat >&2 <<EOF
run.sh: serving $PWD/target/plugins over MCP, configured by $config.
run.sh: next: give your MCP client the command $host
run.sh: with the arguments "serve --config $config" (README, "Use it from an MCP
run.sh: client"), or try "$host list --config $config" and
run.sh: "$host call find_customer '{"query": "ada"}' --config $config" in another terminal.
EOF
exec "$host" serve --config "$config" "$@"
