#!/usr/bin/env bash
# Run the whole test suite on a fresh or warm machine: installs the guest
# toolchain if needed, builds the host and every plugin from source once,
# installs redis-server for the shared-state tests, PostgreSQL for the
# sql tests, and an OCI registry and minisign for the distribution tests,
# then runs the guest SDKs' tests and the unit and end-to-end
# tests (release build, so the host is built only once for plugins, tests
# and benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Redis state-store tests start their own redis-server on 127.0.0.1.
if ! command -v redis-server >/dev/null 2>&1; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "test: installing redis-server (apt)" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends redis-server >&2
fi

# The PostgreSQL tests start their own server (Debian's postgresql) on
# 127.0.0.1, as the postgres user when run as root; setpriv is in util-linux.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "test: installing postgresql (apt)" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >&2
fi

# The distribution tests start their own OCI registry (Debian's
# docker-registry, the CNCF distribution registry) on 127.0.0.1, and sign
# plugins with the minisign tool.
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v minisign >/dev/null 2>&1 || missing+=(minisign)
if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "test: installing ${missing[*]} (apt)" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

scripts/build-plugins.sh
# The TypeScript SDK the end-to-end tests drive the host with (pinned).
ts_client=target/ts-client
if ! cmp -s tests/ts-client/package.json "$ts_client/package.json" ||
    [[ ! -f $ts_client/node_modules/@modelcontextprotocol/sdk/package.json ]]; then
    echo "test: installing the TypeScript SDK into $ts_client (npm)" >&2
    scripts/ensure-node.sh
    mkdir -p "$ts_client"
    cp tests/ts-client/package.json "$ts_client/package.json"
    (cd "$ts_client" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
# The Python and JavaScript SDKs' own tests (no component needed).
python3 -m unittest discover -s guest-sdk/python/tests
node --test guest-sdk/js/test/
cargo test --release --workspace "$@"
