#!/usr/bin/env bash
# Build {{name}}.wasm from app.py: componentize-py (pinned, in .venv unless
# COMPONENTIZE_PY names one) against the world of {{name}}.toml.
set -euo pipefail
cd "$(dirname "$0")"
host=${MCP_WASM_HOST:-{{host}}}
[[ -x $host ]] || host=mcp-wasm-host
componentize_py=${COMPONENTIZE_PY:-.venv/bin/componentize-py}
if [[ ! -x $componentize_py ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check componentize-py==0.25.1
fi
world=$("$host" plugin wit {{name}}.toml --out build/wit)
"$componentize_py" --quiet -d build/wit -w "$world" componentize app -p . -p sdk -o {{name}}.wasm
"$host" plugin check {{name}}.wasm >/dev/null
echo "built {{name}}.wasm: copy it with {{name}}.toml into your plugin directory"
