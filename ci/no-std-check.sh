#!/usr/bin/env bash
# Proves raft-core builds without std: for a bare-metal target when it can be installed, and
# always as a no_std staticlib with its own panic handler and allocator (a dependency that pulls
# in std then fails to link with a duplicate `panic_impl`).
set -euo pipefail
cd "$(dirname "$0")/.."
if rustup target add thumbv7em-none-eabihf >/dev/null 2>&1; then
    cargo build -p raft-core --no-default-features --features serde --target thumbv7em-none-eabihf
    echo "no_std: raft-core builds for thumbv7em-none-eabihf"
else
    echo "no_std: thumbv7em-none-eabihf unavailable; relying on the staticlib check"
fi
cargo build --manifest-path ci/nostd-staticlib/Cargo.toml
echo "no_std: the no_std staticlib links raft-core"
