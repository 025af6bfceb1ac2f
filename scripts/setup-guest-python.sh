#!/usr/bin/env bash
# Make sure componentize-py (pinned) is installed in a project-local virtual
# environment, and print the path of its command:
#
#     componentize_py=$(scripts/setup-guest-python.sh)
#
# The environment lives in target/guest-python. Fast when already done.
# Messages go to stderr; only the path goes to stdout.
set -euo pipefail

VERSION=0.25.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${GUEST_PYTHON_VENV:-$ROOT/target/guest-python}
COMMAND=$VENV/bin/componentize-py

log() { echo "setup-guest-python: $*" >&2; }

if [[ -x $COMMAND ]] && [[ $("$COMMAND" --version 2>/dev/null) == "componentize-py $VERSION" ]]; then
    echo "$COMMAND"
    exit 0
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    log "installing python3-venv (apt)"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends python3-venv >&2
    python=/usr/bin/python3
fi
log "installing componentize-py $VERSION into ${VENV#"$ROOT"/}"
"$python" -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$VERSION" >&2
echo "$COMMAND"
