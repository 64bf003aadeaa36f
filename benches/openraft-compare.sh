#!/usr/bin/env bash
# Runs raft-tokio's in-process cluster bench and openraft's benchmarks/minimal back to back, on
# the same machine, at 1, 64 and 256 clients.
#
#   benches/openraft-compare.sh /path/to/openraft-checkout
#
# openraft pins a nightly toolchain; it builds with the stable one given RUSTC_BOOTSTRAP=1.
# Both run with 2 runtime worker threads for the cluster (openraft: --server-workers 2, plus its
# 1 client worker).
set -euo pipefail
cd "$(dirname "$0")/.."
openraft=${1:?usage: $0 /path/to/openraft}
stable=$(rustup toolchain list | grep -E '^(stable|1\.[0-9]+)' | head -1 | cut -d' ' -f1)
(cd "$openraft/benchmarks/minimal" &&
    RUSTUP_TOOLCHAIN=$stable RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${OPENRAFT_TARGET:-$openraft/target}" \
        cargo build --release --bin bench -q)
bench="${OPENRAFT_TARGET:-$openraft/target}/release/bench"
cargo bench -p raft-tokio --bench cluster --no-run -q 2>/dev/null
ours=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/cluster-* | grep -v '\.d$' | head -1)
for round in 1 2; do
    echo "== round $round"
    "$ours" --clients 1,64,256 --ops 200000
    "$ours" --clients 1,64,256 --ops 200000 --threads
    echo "openraft benchmarks/minimal, 3 nodes, --server-workers 2"
    for c in 1 64 256; do
        n=200000; [ "$c" = 1 ] && n=20000
        "$bench" --client-workers 1 --server-workers 2 -c "$c" -n "$n" -m 3 | grep client_workers |
            sed -E 's/.*clients: ([0-9]+).*ns\/op: ([0-9]+), op\/ms: ([0-9]+).*/  clients \1: \3000 proposals\/s (\2 ns per op)/'
    done
done
