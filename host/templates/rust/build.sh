#!/usr/bin/env bash
# Build {{name}}.wasm: compile the crate to a WebAssembly module, then turn
# it into a component with `mcp-wasm-host componentize`.
#
# Uses rustup's wasm32-unknown-unknown target when it is installed;
# otherwise Debian's rustc-web toolchain, which builds std for wasm itself
# (apt-get install rustc-web cargo-web rust-web-src lld-22).
set -euo pipefail
cd "$(dirname "$0")"
host=${MCP_WASM_HOST:-{{host}}}
[[ -x $host ]] || host=mcp-wasm-host
target=wasm32-unknown-unknown
if rustup target list --installed 2>/dev/null | grep -qx $target; then
    cargo build --release --target $target
elif [[ -x /usr/bin/cargo && -x /usr/lib/llvm-22/bin/wasm-ld ]]; then
    (
        unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
        export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
        export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld
        /usr/bin/cargo build --release -Zbuild-std=std,panic_abort --target $target
    )
else
    echo "no Rust toolchain for $target: run 'rustup target add $target'," >&2
    echo "or install Debian's rustc-web cargo-web rust-web-src lld-22" >&2
    exit 1
fi
"$host" componentize "${CARGO_TARGET_DIR:-target}/$target/release/{{crate_file}}.wasm" -o {{name}}.wasm
"$host" plugin check {{name}}.wasm >/dev/null
echo "built {{name}}.wasm: try it with 'mcp-wasm-host list $PWD' or 'mcp-wasm-host call', serve this directory, or copy {{name}}.wasm and {{name}}.toml into your plugin directory"
