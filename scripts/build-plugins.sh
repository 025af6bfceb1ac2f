#!/usr/bin/env bash
# Build the Rust plugins into WebAssembly components, each beside its
# manifest:
#
#     plugins/<name>/            -> target/plugins/<name>.{wasm,toml}
#     plugins/conformance/       -> target/conformance-plugins/conformance.{wasm,toml}
#     plugins/fixtures/<name>/   -> target/fixture-plugins/<name>.{wasm,toml}
#
# The conformance plugin answers the fixed names the official MCP suite
# calls (`test_*`); it is kept apart so the examples `serve` offers by
# default are only those a user should see.
#
# Steps: make sure the guest toolchain is present (setup-guest-toolchain.sh);
# compile every plugin crate to a core module with the `guest` profile in the
# shared target dir `target/guest` (std is built once per target there);
# turn each core module into a component with `mcp-wasm-host componentize`
# (building the host first when it is missing or older than its sources);
# copy components and manifests into place only when they changed, so file
# watchers see no spurious writes.
#
# A crate whose Cargo.toml says `wasi = true` under
# `[package.metadata.mcp-plugin]` is built for `wasm32-wasip1` and wrapped
# with the WASI preview1 reactor adapter; all others are built for
# `wasm32-unknown-unknown` and import nothing but the plugin interfaces.
#
# A plugin directory with `app.py` (Python), `app.js` (JavaScript) or `*.c`
# files (C) instead of a Cargo.toml is built with that language's tools
# (installed by scripts/setup-guest-python.sh, setup-guest-js.sh and
# setup-guest-c.sh) against the world `mcp-wasm-host plugin wit` writes for
# its manifest.
#
# Usage: scripts/build-plugins.sh [--core-only]
#   --core-only   stop after compiling the core modules
#
# Environment: MCP_WASM_HOST names a host binary to use instead of
# target/release/mcp-wasm-host (it is then never rebuilt); CARGO is the cargo
# that builds the host (default: `cargo` on PATH).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST_TARGET_DIR=$ROOT/target/guest
COMPONENT_DIR=$GUEST_TARGET_DIR/components
PROFILE=guest

core_only=false
for arg in "$@"; do
    case $arg in
    --core-only) core_only=true ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build-plugins: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

log() { echo "build-plugins: $*" >&2; }

# --- which crates, for which target, going where -------------------------

plain_crates=() # wasm32-unknown-unknown
wasi_crates=()  # wasm32-wasip1
declare -A out_dir=()

collect() { # collect <crate dir> <output dir>
    local dir=$1 name
    name=$(basename "$dir")
    [[ -f $dir/Cargo.toml ]] || return 0
    [[ -f $dir/$name.toml ]] || {
        log "$dir has no manifest $name.toml"
        exit 1
    }
    if grep -Eq '^[[:space:]]*wasi[[:space:]]*=[[:space:]]*true' "$dir/Cargo.toml"; then
        wasi_crates+=("$name")
    else
        plain_crates+=("$name")
    fi
    out_dir[$name]=$2
}

# Where a plugin of plugins/<name> goes.
destination_of() { # destination_of <plugin dir>
    case $1 in
    "$ROOT"/plugins/fixtures/*) echo "$ROOT/target/fixture-plugins" ;;
    "$ROOT"/plugins/conformance | "$ROOT"/plugins/conformance/) echo "$ROOT/target/conformance-plugins" ;;
    *) echo "$ROOT/target/plugins" ;;
    esac
}

for dir in "$ROOT"/plugins/*/; do
    [[ $(basename "$dir") == fixtures ]] && continue
    collect "${dir%/}" "$(destination_of "${dir%/}")"
done
for dir in "$ROOT"/plugins/fixtures/*/; do
    collect "${dir%/}" "$ROOT/target/fixture-plugins"
done

# --- core modules ---------------------------------------------------------

toolchain_env=$("$ROOT/scripts/setup-guest-toolchain.sh")

cargo_guest() { # cargo_guest <target> <crate>...
    local target=$1
    shift
    local packages=()
    for crate in "$@"; do packages+=(-p "$crate"); done
    (
        # Flags meant for the host machine must not leak into wasm builds.
        unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
        eval "$toolchain_env"
        cd "$ROOT"
        # shellcheck disable=SC2086 # GUEST_BUILD_STD is empty or one flag
        "$GUEST_CARGO" build --quiet --profile "$PROFILE" $GUEST_BUILD_STD \
            --target "$target" --target-dir "$GUEST_TARGET_DIR" "${packages[@]}"
    )
}

if ((${#plain_crates[@]})); then
    log "compiling ${plain_crates[*]} (wasm32-unknown-unknown)"
    cargo_guest wasm32-unknown-unknown "${plain_crates[@]}"
fi
if ((${#wasi_crates[@]})); then
    log "compiling ${wasi_crates[*]} (wasm32-wasip1)"
    cargo_guest wasm32-wasip1 "${wasi_crates[@]}"
fi

core_module() { # core_module <crate> <target>
    echo "$GUEST_TARGET_DIR/$2/$PROFILE/${1//-/_}.wasm"
}

if $core_only; then
    for crate in "${plain_crates[@]}"; do core_module "$crate" wasm32-unknown-unknown; done
    for crate in "${wasi_crates[@]}"; do core_module "$crate" wasm32-wasip1; done
    exit 0
fi

# --- the host, for `componentize` -----------------------------------------

# The host's allocator (jemalloc) is built from its C sources with make.
if ! command -v make >/dev/null 2>&1; then
    log "installing make (apt): building the host's allocator needs it"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends make >&2
fi

if [[ -n ${MCP_WASM_HOST:-} ]]; then
    host=$MCP_WASM_HOST
else
    host=$ROOT/target/release/mcp-wasm-host
    if [[ ! -x $host ]] ||
        [[ -n $(find "$ROOT/host" "$ROOT/wit" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" \
            -newer "$host" -type f -print -quit) ]]; then
        log "building the host (cargo build --release -p mcp-wasm-host)"
        (cd "$ROOT" && "${CARGO:-cargo}" build --quiet --release -p mcp-wasm-host)
    fi
fi

# --- components -------------------------------------------------------------

# install_if_changed <source> <destination>: copy only when the bytes differ.
install_if_changed() {
    if ! cmp -s "$1" "$2"; then
        mkdir -p "$(dirname "$2")"
        cp "$1" "$2.tmp.$$"
        mv -f "$2.tmp.$$" "$2"
        log "updated ${2#"$ROOT"/}"
    fi
}

mkdir -p "$COMPONENT_DIR"

componentize() { # componentize <crate> <target> [componentize flags...]
    local crate=$1 target=$2
    shift 2
    local core component
    core=$(core_module "$crate" "$target")
    component=$COMPONENT_DIR/$crate.wasm
    if [[ ! -f $component || $core -nt $component || $host -nt $component ]]; then
        "$host" componentize "$core" -o "$component.tmp" "$@"
        mv -f "$component.tmp" "$component"
    fi
    install_if_changed "$component" "${out_dir[$crate]}/$crate.wasm"
    local source_dir=$ROOT/plugins/$crate
    [[ -d $source_dir ]] || source_dir=$ROOT/plugins/fixtures/$crate
    install_if_changed "$source_dir/$crate.toml" "${out_dir[$crate]}/$crate.toml"
}

for crate in "${plain_crates[@]}"; do componentize "$crate" wasm32-unknown-unknown; done
for crate in "${wasi_crates[@]}"; do componentize "$crate" wasm32-wasip1 --adapter reactor; done

# --- plugins in other languages ---------------------------------------------
#
# A plugin directory holding `app.py` is Python (componentize-py), one holding
# `app.js` is JavaScript (componentize-js), one holding `*.c` files is C
# (`wit-bindgen c`, clang and wasi-libc, then `componentize`). Each is built against the world
# `mcp-wasm-host plugin wit` writes for its manifest, so the component imports
# exactly the interfaces of its declared capabilities.

polyglot=()
for dir in "$ROOT"/plugins/*/ "$ROOT"/plugins/fixtures/*/; do
    dir=${dir%/}
    [[ -f $dir/app.py || -f $dir/app.js || -n $(compgen -G "$dir/*.c") ]] || continue
    name=$(basename "$dir")
    [[ -f $dir/$name.toml ]] || {
        log "$dir has no manifest $name.toml"
        exit 1
    }
    polyglot+=("$dir")
done

# sources_newer <component> <path>...: true when any file under the paths is
# newer than the component (or it is missing).
sources_newer() {
    local component=$1
    shift
    [[ ! -f $component ]] && return 0
    [[ -n $(find "$@" -newer "$component" -type f -not -path '*/__pycache__/*' \
        -not -path '*/node_modules/*' -print -quit) ]]
}

for dir in "${polyglot[@]}"; do
    name=$(basename "$dir")
    build=$GUEST_TARGET_DIR/polyglot/$name
    component=$COMPONENT_DIR/$name.wasm
    if [[ -f $dir/app.py ]]; then
        componentize_py=${componentize_py:-$("$ROOT/scripts/setup-guest-python.sh")}
        world=$("$host" plugin wit "$dir/$name.toml" --out "$build/wit" \
            --exports tools,resources,prompts,completions)
        if sources_newer "$component" "$dir" "$ROOT/guest-sdk/python" "$build/wit" "$componentize_py"; then
            log "componentizing $name (Python, componentize-py)"
            (cd "$dir" && "$componentize_py" --quiet -d "$build/wit" -w "$world" componentize mcp_plugin.component \
                -p . -p "$ROOT/guest-sdk/python" -o "$component.tmp" >&2)
            mv -f "$component.tmp" "$component"
        fi
    elif [[ -f $dir/app.js ]]; then
        componentize_js=${componentize_js:-$("$ROOT/scripts/setup-guest-js.sh")}
        if sources_newer "$component" "$dir" "$ROOT/guest-sdk/js" "$componentize_js" "$host"; then
            log "componentizing $name (JavaScript, componentize-js)"
            MCP_WASM_HOST=$host COMPONENTIZE_JS=$componentize_js \
                node "$ROOT/guest-sdk/js/build.mjs" "$dir" -o "$component" --build-dir "$build"
        fi
    else
        [[ -n ${GUEST_CC:-} ]] || eval "$("$ROOT/scripts/setup-guest-c.sh")"
        world=$("$host" plugin wit "$dir/$name.toml" --out "$build/wit")
        if sources_newer "$component" "$dir" "$build/wit" "$host"; then
            log "compiling $name (C, wit-bindgen c + clang)"
            "$WIT_BINDGEN" c "$build/wit" --world "$world" --out-dir "$build/gen" 2>&1 |
                { grep -v '^Generating' || true; } >&2
            "$GUEST_CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O2 -Wall -Wextra -Werror \
                -mexec-model=reactor -I"$build/gen" -Wl,--strip-debug -o "$build/$name.core.wasm" \
                "$dir"/*.c "$build/gen"/*.c "$build/gen"/*_component_type.o
            "$host" componentize "$build/$name.core.wasm" -o "$component.tmp" --adapter reactor
            mv -f "$component.tmp" "$component"
        fi
    fi
    dest=$(destination_of "${dir%/}")
    out_dir[$name]=$dest
    install_if_changed "$component" "$dest/$name.wasm"
    install_if_changed "$dir/$name.toml" "$dest/$name.toml"
done

# Outputs no plugin produces any more (a plugin removed, or moved to another
# directory) go, so each directory serves exactly what the sources hold.
for dest in "$ROOT/target/plugins" "$ROOT/target/conformance-plugins" "$ROOT/target/fixture-plugins"; do
    for file in "$dest"/*.wasm "$dest"/*.toml; do
        [[ -e $file ]] || continue
        stem=$(basename "${file%.*}")
        if [[ ${out_dir[$stem]:-} != "$dest" ]]; then
            rm -f "$file"
            log "removed ${file#"$ROOT"/}, which no plugin builds"
        fi
    done
done

# The examples' configuration, `target/examples.toml`: the plugins, the
# example policy (plugins/examples-policy.toml) and the databases file naming
# the `crm` example's SQLite database, created from plugins/crm/seed.sql
# (again whenever the seed changes). `scripts/run.sh` serves with it.
examples=$ROOT/target/examples
mkdir -p "$examples"
if [[ ! -f $examples/crm.sqlite3 || $ROOT/plugins/crm/seed.sql -nt $examples/crm.sqlite3 ]]; then
    rm -f "$examples/crm.sqlite3.tmp"
    python3 - "$ROOT/plugins/crm/seed.sql" "$examples/crm.sqlite3.tmp" <<'PY'
import sqlite3, sys
with open(sys.argv[1]) as seed:
    db = sqlite3.connect(sys.argv[2])
    db.executescript(seed.read())
    db.commit()
    db.close()
PY
    mv -f "$examples/crm.sqlite3.tmp" "$examples/crm.sqlite3"
    log "created target/examples/crm.sqlite3 from plugins/crm/seed.sql"
fi
write_if_changed() { # write_if_changed <file> (text on stdin)
    local text
    text=$(cat)
    [[ -f $1 && $(cat "$1") == "$text" ]] || printf '%s\n' "$text" >"$1"
}
write_if_changed "$examples/databases.toml" <<EOF
# The examples' databases (written by scripts/build-plugins.sh).
[databases.crm]
url = "sqlite://crm.sqlite3"
EOF
write_if_changed "$ROOT/target/examples.toml" <<EOF
# Serve the examples: mcp-wasm-host serve --config $ROOT/target/examples.toml
# (written by scripts/build-plugins.sh).
plugins = "$ROOT/target/plugins"
policy = "$ROOT/plugins/examples-policy.toml"
databases = "$examples/databases.toml"
EOF

for dir in "${plain_crates[@]}" "${wasi_crates[@]}" "${polyglot[@]}"; do
    crate=$(basename "$dir")
    printf '%8s  %s\n' "$(wc -c <"${out_dir[$crate]}/$crate.wasm")" \
        "${out_dir[$crate]#"$ROOT"/}/$crate.wasm" >&2
done
