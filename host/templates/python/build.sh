#!/usr/bin/env bash
# Build {{name}}.wasm from app.py: componentize-py (pinned, in .venv unless
# COMPONENTIZE_PY names one) against the world of {{name}}.toml.
set -euo pipefail
cd "$(dirname "$0")"
host=${MCP_WASM_HOST:-{{host}}}
[[ -x $host ]] || host=mcp-wasm-host
componentize_py=${COMPONENTIZE_PY:-.venv/bin/componentize-py}
if [[ ! -x $componentize_py ]]; then
    # Debian and Ubuntu ship Python's venv module in a package of its own.
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null && command -v apt-get >/dev/null; then
        echo "installing python3-venv (apt)" >&2
        sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 || true
    fi
    python3 -c 'import ensurepip, venv' 2>/dev/null || {
        echo "Python's venv module is missing: install python3-venv (or your system's equivalent)," >&2
        echo "or set COMPONENTIZE_PY to a componentize-py command" >&2
        exit 1
    }
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check componentize-py==0.25.1
fi
world=$("$host" plugin wit {{name}}.toml --out build/wit --exports tools,resources,prompts,completions)
"$componentize_py" --quiet -d build/wit -w "$world" componentize mcp_plugin.component -p . -p sdk -o {{name}}.wasm
"$host" plugin check {{name}}.wasm >/dev/null
echo "built {{name}}.wasm: try it with 'mcp-wasm-host list $PWD' or 'mcp-wasm-host call', serve this directory, or copy {{name}}.wasm and {{name}}.toml into your plugin directory"
