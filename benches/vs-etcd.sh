#!/usr/bin/env bash
# End-to-end comparison with etcd, back to back on this machine, with one load generator.
#
#   benches/vs-etcd.sh [raft-kv|etcd|both] [CLIENTS...]
#
# Runs a 3-node etcd (Debian's etcd-server, fsync on) and a 3-node raft-kv (`raft-kv dev`, release
# build: QUIC between nodes, RocksDB, every write fsynced on a majority before it is acknowledged)
# one after the other, and drives each with ../shared/loadgen (LOADGEN_DIR to change): 16-byte keys
# over 100,000, 128-byte values, closed-loop clients spread over the three nodes, puts then
# linearizable gets, about 15 s per point. RESULT lines go to benches/vs-etcd.results (and
# stdout), tagged with the system, the mix and the date; server CPU per operation is recorded too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WHICH=${1:-both}
shift || true
CLIENTS=${*:-1 16 64 256}
LOADGEN_DIR=${LOADGEN_DIR:-$ROOT/../shared/loadgen}
OUT=${OUT:-$ROOT/benches/vs-etcd.results}
STAMP=$(date -u +%Y-%m-%dT%H:%MZ)

[ -x "$LOADGEN_DIR/bench.sh" ] || { echo "no loadgen at $LOADGEN_DIR (set LOADGEN_DIR)" >&2; exit 1; }
if [ ! -x "$LOADGEN_DIR/target/release/loadgen" ]; then
    command -v protoc >/dev/null || { echo "loadgen needs protoc (apt-get install protobuf-compiler)" >&2; exit 1; }
    (cd "$LOADGEN_DIR" && CARGO_TARGET_DIR="$LOADGEN_DIR/target" cargo build --release)
fi

# The endpoints with the leader's last: loadgen gives client i the endpoint i mod 3, so the
# single client of the c=1 points talks to a follower on both systems (which node wins the first
# election would otherwise decide whether a 1-client read takes one round trip or two).
leader_last() { # endpoints leader
    local eps=$1 leader=$2 out="" e
    for e in ${eps//,/ }; do [ "$e" = "$leader" ] || out="$out$e,"; done
    echo "$out$leader"
}

run_mixes() { # system endpoints pids
    local sys=$1 eps=$2 pids=$3
    for mix in put get; do
        SERVER_PIDS="$pids" "$LOADGEN_DIR/bench.sh" "$sys" "$eps" "$sys-$mix-$STAMP" "$mix" "$CLIENTS" "$OUT"
    done
}

bench_etcd() {
    command -v etcd >/dev/null || { echo "etcd is not installed (apt-get install etcd-server etcd-client)" >&2; exit 1; }
    "$LOADGEN_DIR/stop-etcd.sh" --wipe >/dev/null 2>&1 || true
    "$LOADGEN_DIR/start-etcd.sh" >/dev/null
    local pids
    pids=$(cat /tmp/etcd-anchor/*.pid | tr '\n' ' ')
    local eps=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 leader=""
    for _ in $(seq 1 50); do
        leader=$(ETCDCTL_API=3 etcdctl --endpoints="$eps" endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
print(next(e["Endpoint"] for e in json.load(sys.stdin) if e["Status"]["header"]["member_id"] == e["Status"]["leader"]))' 2>/dev/null) && break
        sleep 0.2
    done
    [ -n "$leader" ] || { echo "etcd has no leader" >&2; exit 1; }
    run_mixes etcd "$(leader_last "$eps" "$leader")" "$pids"
    "$LOADGEN_DIR/stop-etcd.sh" --wipe >/dev/null 2>&1 || true
}

# The client address of the raft-kv node that leads (fails until every node answers and one leads).
raft_kv_leader() {
    python3 - <<'EOF' 2>/dev/null
import socket
def info(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$4\r\nraft\r\n")
    data = b""
    while b"\r\n" not in data or len(data) < int(data[1:data.index(b"\r\n")]) + 5:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()
roles = {p: info(p) for p in (6379, 6380, 6381)}
print(next(f"127.0.0.1:{p}" for p, r in roles.items() if "role:leader" in r))
EOF
}

bench_raft_kv() {
    cargo build --release -p raft-kv
    local bin=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}/release/raft-kv
    local dir
    dir=$(mktemp -d /tmp/raft-kv-bench.XXXXXX)
    "$bin" dev --dir "$dir" --port 6379 --log warn >"$dir/log" 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' RETURN
    # Ready once every node answers and one of them leads.
    local leader=""
    for _ in $(seq 1 100); do
        if leader=$(raft_kv_leader); then break; fi
        sleep 0.2
    done
    [ -n "$leader" ] || { echo "raft-kv has no leader" >&2; exit 1; }
    run_mixes resp "$(leader_last 127.0.0.1:6379,127.0.0.1:6380,127.0.0.1:6381 "$leader")" "$pid"
}

case $WHICH in
    etcd) bench_etcd ;;
    raft-kv) bench_raft_kv ;;
    both) bench_etcd; bench_raft_kv ;;
    *) echo "usage: $0 [raft-kv|etcd|both] [CLIENTS...]" >&2; exit 2 ;;
esac
