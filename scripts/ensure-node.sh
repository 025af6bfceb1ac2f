#!/usr/bin/env bash
# Make sure Node.js and npm are installed (apt when missing). Fast when they
# are. Messages go to stderr.
set -euo pipefail

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "ensure-node: installing nodejs and npm (apt)" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
