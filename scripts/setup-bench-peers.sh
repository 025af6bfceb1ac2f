#!/usr/bin/env bash
# Install the servers `cargo bench --bench host -- stdio` measures beside the
# host, and print the path of the folder holding them:
#
#     peers=$(scripts/setup-bench-peers.sh)
#
# Today one: the MCP reference server (`@modelcontextprotocol/server-everything`,
# Node.js, no sandbox), pinned, in target/bench-peers. Fast when already
# done. Needs Node.js and npm (installed with apt when missing). Messages go
# to stderr; only the path goes to stdout.
set -euo pipefail

SERVER_EVERYTHING=2026.8.31
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
echo "$DIR"
