#!/usr/bin/env bash
# Make sure a Rust toolchain that builds WebAssembly plugins is present, and
# print the environment for building them as `export NAME=value` lines:
#
#     eval "$(scripts/setup-guest-toolchain.sh)"
#     "$GUEST_CARGO" build --profile guest $GUEST_BUILD_STD --target wasm32-unknown-unknown -p hello
#
# Two routes, tried in this order:
#
# 1. rustup, when the targets `wasm32-unknown-unknown` and `wasm32-wasip1`
#    are already installed (a plugin author's machine). This script never
#    installs rustup targets.
# 2. Debian packages: rustc/cargo 1.96 with their std sources (std is built
#    for wasm with `-Zbuild-std`), LLVM 22's `wasm-ld`, and `wasi-libc` for
#    the WASI target. Installed with apt-get when missing (sudo if not root).
#
# Set GUEST_TOOLCHAIN=rustup or GUEST_TOOLCHAIN=debian to force a route.
# Messages go to stderr; only the exports go to stdout.
set -euo pipefail

DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-22 wasi-libc)
DEBIAN_CARGO=/usr/bin/cargo
DEBIAN_RUSTC=/usr/bin/rustc
DEBIAN_RUSTDOC=/usr/bin/rustdoc
DEBIAN_RUST_VERSION=1.96
WASM_LD=/usr/lib/llvm-22/bin/wasm-ld
WASI_SYSROOT_LIB=/usr/lib/wasm32-wasi

log() { echo "setup-guest-toolchain: $*" >&2; }

rustup_has_targets() {
    command -v rustup >/dev/null 2>&1 || return 1
    local installed
    installed=$(rustup target list --installed 2>/dev/null) || return 1
    grep -qx wasm32-unknown-unknown <<<"$installed" && grep -qx wasm32-wasip1 <<<"$installed"
}

debian_ready() {
    [[ -x $DEBIAN_CARGO && -x $DEBIAN_RUSTC && -x $WASM_LD && -f $WASI_SYSROOT_LIB/libc.a ]] || return 1
    [[ -d /usr/lib/rustlib/src/rust/library ]] || return 1
    local version
    version=$("$DEBIAN_CARGO" --version 2>/dev/null) || return 1
    [[ $version == "cargo $DEBIAN_RUST_VERSION."* ]]
}

install_debian() {
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            log "not root and no sudo: install ${DEBIAN_PACKAGES[*]} yourself"
            exit 1
        }
        sudo=(sudo)
    fi
    log "installing ${DEBIAN_PACKAGES[*]} (about 150 MB download)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${DEBIAN_PACKAGES[@]}" >&2
}

emit() { printf 'export %s=%q\n' "$1" "$2"; }

route=${GUEST_TOOLCHAIN:-}
if [[ -z $route ]]; then
    if rustup_has_targets; then route=rustup; else route=debian; fi
fi

case $route in
rustup)
    rustup_has_targets || {
        log "rustup lacks wasm32-unknown-unknown or wasm32-wasip1"
        exit 1
    }
    emit GUEST_TOOLCHAIN rustup
    emit GUEST_CARGO "$(command -v cargo)"
    emit GUEST_BUILD_STD ""
    ;;
debian)
    if ! debian_ready; then
        install_debian
        debian_ready || {
            log "the Debian toolchain is still incomplete after installing ${DEBIAN_PACKAGES[*]}"
            exit 1
        }
    fi
    emit GUEST_TOOLCHAIN debian
    emit GUEST_CARGO "$DEBIAN_CARGO"
    emit GUEST_BUILD_STD "-Zbuild-std=std,panic_abort"
    emit RUSTC "$DEBIAN_RUSTC"
    emit RUSTDOC "$DEBIAN_RUSTDOC"
    emit RUSTC_BOOTSTRAP 1
    emit CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER "$WASM_LD"
    emit CARGO_TARGET_WASM32_WASIP1_LINKER "$WASM_LD"
    emit CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS "-C link-self-contained=no -L native=$WASI_SYSROOT_LIB"
    ;;
*)
    log "GUEST_TOOLCHAIN must be rustup or debian, not '$route'"
    exit 1
    ;;
esac
