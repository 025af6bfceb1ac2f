#!/usr/bin/env bash
# Make sure the C guest toolchain is present: clang 14 with the wasm32
# runtime, lld 14 and wasi-libc (Debian packages), and wit-bindgen-cli
# (pinned, `cargo install`). Prints the environment for building as
# `export NAME=value` lines:
#
#     eval "$(scripts/setup-guest-c.sh)"
#     "$WIT_BINDGEN" c WIT_DIR --world W --out-dir gen
#     "$GUEST_CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" ...
#
# Fast when already done. Messages go to stderr; only the exports go to stdout.
set -euo pipefail

PACKAGES=(clang-14 lld-14 libclang-rt-14-dev-wasm32 wasi-libc)
WIT_BINDGEN_VERSION=0.63.0
CC=/usr/bin/clang-14
SYSROOT=/usr
WASI_LIBC=/usr/lib/wasm32-wasi/libc.a
BUILTINS=/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a

log() { echo "setup-guest-c: $*" >&2; }

if [[ ! -x $CC || ! -f $WASI_LIBC || ! -f $BUILTINS || ! -x /usr/bin/wasm-ld-14 ]]; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    log "installing ${PACKAGES[*]} (apt, about 60 MB)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
fi

cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
wit_bindgen=$cargo_bin/wit-bindgen
if [[ ! -x $wit_bindgen ]] ||
    [[ $("$wit_bindgen" --version 2>/dev/null) != "wit-bindgen-cli $WIT_BINDGEN_VERSION"* ]]; then
    log "installing wit-bindgen-cli $WIT_BINDGEN_VERSION (cargo install, a few minutes)"
    cargo install --locked --quiet "wit-bindgen-cli@$WIT_BINDGEN_VERSION" >&2
fi

echo "export GUEST_CC=$CC"
echo "export WASI_SYSROOT=$SYSROOT"
echo "export WIT_BINDGEN=$wit_bindgen"
