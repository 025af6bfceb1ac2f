#!/usr/bin/env bash
# Run the whole test suite on a fresh or warm machine: installs the guest
# toolchain if needed, builds the host and every plugin from source once,
# then runs the unit and end-to-end tests (release build, so the host is
# built only once for plugins, tests and benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-plugins.sh
cargo test --release --workspace "$@"
