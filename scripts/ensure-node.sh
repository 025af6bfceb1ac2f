#!/usr/bin/env bash
# Make sure Node.js and npm are installed (apt when missing) and that Node is
# at least NODE_MIN (default 20, what componentize-js needs). Fast when they
# are. Messages go to stderr; an older Node stops with both versions named.
set -euo pipefail

NODE_MIN=${NODE_MIN:-20}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "ensure-node: installing nodejs and npm (apt)" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi

version=$(node --version 2>/dev/null || true)
major=${version#v}
major=${major%%.*}
if ! [[ $major =~ ^[0-9]+$ ]] || ((major < NODE_MIN)); then
    echo "ensure-node: Node.js ${version:-(unknown version)} is installed; the JavaScript plugins need Node.js $NODE_MIN or newer" >&2
    echo "ensure-node: install a newer nodejs (for example from your distribution's backports) and run this again" >&2
    exit 1
fi
