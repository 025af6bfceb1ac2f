#!/usr/bin/env bash
# Build {{name}}.wasm from app.js: componentize-js (pinned in package.json,
# installed into node_modules unless COMPONENTIZE_JS names one) against the
# world of {{name}}.toml.
set -euo pipefail
cd "$(dirname "$0")"
host=${MCP_WASM_HOST:-{{host}}}
[[ -x $host ]] || host=mcp-wasm-host
if [[ -z ${COMPONENTIZE_JS:-} && ! -x node_modules/.bin/componentize-js ]]; then
    npm install --silent --no-audit --no-fund
fi
MCP_WASM_HOST=$host node sdk/build.mjs .
"$host" plugin check {{name}}.wasm >/dev/null
echo "built {{name}}.wasm: try it with 'mcp-wasm-host list $PWD' or 'mcp-wasm-host call', serve this directory, or copy {{name}}.wasm and {{name}}.toml into your plugin directory"
