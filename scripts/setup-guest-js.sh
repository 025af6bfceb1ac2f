#!/usr/bin/env bash
# Make sure componentize-js (pinned, with the preview2-shim it needs) is
# installed in a project-local folder, and print the path of its command:
#
#     componentize_js=$(scripts/setup-guest-js.sh)
#
# The packages live in target/guest-js. Fast when already done. Needs Node.js
# 20 or newer and npm (installed with apt when missing). Messages go to
# stderr; only the path goes to stdout.
set -euo pipefail

COMPONENTIZE_JS=0.23.0
# componentize-js uses the shim without declaring it; 0.26 cannot read the
# WIT files it is given, so pin the version it works with.
PREVIEW2_SHIM=0.25.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${GUEST_JS_DIR:-$ROOT/target/guest-js}
COMMAND=$DIR/node_modules/.bin/componentize-js

log() { echo "setup-guest-js: $*" >&2; }

installed_version() { # installed_version <package>
    node -p "require('$DIR/node_modules/$1/package.json').version" 2>/dev/null || true
}

"$ROOT/scripts/ensure-node.sh"

if [[ -x $COMMAND ]] &&
    [[ $(installed_version @bytecodealliance/componentize-js) == "$COMPONENTIZE_JS" ]] &&
    [[ $(installed_version @bytecodealliance/preview2-shim) == "$PREVIEW2_SHIM" ]]; then
    echo "$COMMAND"
    exit 0
fi

log "installing componentize-js $COMPONENTIZE_JS into ${DIR#"$ROOT"/}"
mkdir -p "$DIR"
[[ -f $DIR/package.json ]] || echo '{"name": "guest-js-toolchain", "private": true}' >"$DIR/package.json"
(cd "$DIR" && npm install --silent --no-audit --no-fund --save-exact \
    "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" \
    "@bytecodealliance/preview2-shim@$PREVIEW2_SHIM" >&2)
echo "$COMMAND"
