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
# 2. Debian packages: rustc/cargo 1.96 or newer with their std sources (std
#    is built for wasm with `-Zbuild-std`), LLVM's `wasm-ld` (22 or newer),
#    and `wasi-libc` for the WASI target. Installed with apt-get when missing
#    (sudo if not root); a Debian Rust older than 1.96 stops with a message
#    naming both versions.
#
# Set GUEST_TOOLCHAIN=rustup or GUEST_TOOLCHAIN=debian to force a route.
# Messages go to stderr; only the exports go to stdout.
set -euo pipefail

DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-22 wasi-libc)
DEBIAN_CARGO=/usr/bin/cargo
DEBIAN_RUSTC=/usr/bin/rustc
DEBIAN_RUSTDOC=/usr/bin/rustdoc
# The oldest Debian Rust that builds the guests (the SDK uses its language
# features); any newer one works.
DEBIAN_RUST_MIN=1.96
WASI_SYSROOT_LIB=/usr/lib/wasm32-wasi

log() { echo "setup-guest-toolchain: $*" >&2; }

rustup_has_targets() {
    command -v rustup >/dev/null 2>&1 || return 1
    local installed
    installed=$(rustup target list --installed 2>/dev/null) || return 1
    grep -qx wasm32-unknown-unknown <<<"$installed" && grep -qx wasm32-wasip1 <<<"$installed"
}

# The newest LLVM wasm-ld installed, 22 or later; empty when there is none.
find_wasm_ld() {
    local found=
    for ld in /usr/lib/llvm-*/bin/wasm-ld; do
        [[ -x $ld ]] || continue
        local major=${ld#/usr/lib/llvm-}
        major=${major%%/*}
        [[ $major =~ ^[0-9]+$ && $major -ge 22 ]] || continue
        if [[ -z $found ]] || version_at_least "$major" "${found_major:-0}"; then
            found=$ld
            found_major=$major
        fi
    done
    echo "$found"
}

version_at_least() { # version_at_least <version> <minimum>
    [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]
}

# The version of Debian's cargo (x.y.z), empty when it is not installed.
debian_rust_version() {
    local version
    version=$("$DEBIAN_CARGO" --version 2>/dev/null) || return 0
    version=${version#cargo }
    echo "${version%% *}"
}

debian_ready() {
    [[ -x $DEBIAN_CARGO && -x $DEBIAN_RUSTC && -n $(find_wasm_ld) && -f $WASI_SYSROOT_LIB/libc.a ]] || return 1
    [[ -d /usr/lib/rustlib/src/rust/library ]] || return 1
    local version
    version=$(debian_rust_version)
    [[ -n $version ]] && version_at_least "$version" "$DEBIAN_RUST_MIN"
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
        version=$(debian_rust_version)
        if [[ -n $version ]] && ! version_at_least "$version" "$DEBIAN_RUST_MIN"; then
            log "Debian's rustc-web is $version; building the plugins needs $DEBIAN_RUST_MIN or newer"
            log "(a newer Debian release, or rustup with the wasm32-unknown-unknown and wasm32-wasip1 targets)"
            exit 1
        fi
        debian_ready || {
            log "the Debian toolchain is still incomplete after installing ${DEBIAN_PACKAGES[*]}"
            exit 1
        }
    fi
    WASM_LD=$(find_wasm_ld)
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
