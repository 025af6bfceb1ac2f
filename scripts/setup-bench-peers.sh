#!/usr/bin/env bash
# Install the servers `cargo bench --bench host -- stdio` measures beside the
# host, and print the path of the folder holding them:
#
#     peers=$(scripts/setup-bench-peers.sh)
#
# Two, pinned, in target/bench-peers: the MCP reference server
# (`@modelcontextprotocol/server-everything`, Node.js, no sandbox) and
# FastMCP (Python, in a virtual environment of its own, serving
# host/benches/peers/fastmcp_add.py). Fast when already done. Needs Node.js
# and npm (installed with apt when missing) and python3 with venv. Messages
# go to stderr; only the path goes to stdout.
set -euo pipefail

SERVER_EVERYTHING=2026.8.31
FASTMCP=4.1.6
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_PEERS_DIR:-$ROOT/target/bench-peers}
PACKAGE=@modelcontextprotocol/server-everything

log() { echo "setup-bench-peers: $*" >&2; }

"$ROOT/scripts/ensure-node.sh"

installed=$(node -p "require('$DIR/node_modules/$PACKAGE/package.json').version" 2>/dev/null || true)
if [[ $installed != "$SERVER_EVERYTHING" ]]; then
    log "installing $PACKAGE $SERVER_EVERYTHING into ${DIR#"$ROOT"/}"
    mkdir -p "$DIR"
    [[ -f $DIR/package.json ]] || echo '{"name": "bench-peers", "private": true}' >"$DIR/package.json"
    (cd "$DIR" && npm install --silent --no-audit --no-fund --save-exact \
        "$PACKAGE@$SERVER_EVERYTHING" >&2)
fi
venv=$DIR/fastmcp
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("fastmcp"))' 2>/dev/null || true)
if [[ $installed != "$FASTMCP" ]]; then
    log "installing fastmcp $FASTMCP into ${venv#"$ROOT"/} (pip)"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "fastmcp==$FASTMCP" >&2
fi
echo "$DIR"
