# Recipes for working on mcp-wasm-host. Each one is a thin wrapper over a
# script in scripts/, so nothing here needs `just` to work.

# List the recipes.
default:
    @just --list

# Install the guest toolchain (Debian rust-web + build-std) if missing.
setup:
    scripts/setup-guest-toolchain.sh

# Build the host and every plugin into target/plugins, target/conformance-plugins
# and target/fixture-plugins.
build-plugins:
    scripts/build-plugins.sh

# Build everything and serve the example plugins (stdio; pass --http ADDR for HTTP).
run *ARGS:
    scripts/run.sh {{ARGS}}

# Build everything and run the whole test suite.
test *ARGS:
    scripts/test.sh {{ARGS}}

# The official MCP conformance suite against the host serving target/conformance-plugins
# (pass suite options, e.g. --scenario tools-call-sampling).
conformance *ARGS:
    scripts/conformance.sh {{ARGS}}

# Benchmarks; figures go to docs/benchmarks.md by hand, with date and machine.
bench:
    scripts/build-plugins.sh
    scripts/setup-bench-peers.sh
    cargo bench -p mcp-wasm-host --bench host

# Format every crate.
fmt:
    cargo fmt --all

# Lint every crate the way CI expects.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
