#!/usr/bin/env bash
# redis-benchmark against `raft-kv dev` (release; 3 nodes, every write fsynced on a majority) and,
# in the same run, against one durable redis-server (appendonly yes, appendfsync always).
#
#   benches/vs-redis.sh [REQUESTS]      (default 200000; needs redis-tools and redis-server)
#
# SET and GET, 128-byte values, 64 clients, keys random over 100,000. raft-kv is measured through
# its leader and through a follower (which forwards writes and asks the leader for read indexes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
for tool in redis-benchmark redis-cli redis-server; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install redis-tools redis-server)" >&2; exit 1; }
done
bench() { # label port
    redis-benchmark -h 127.0.0.1 -p "$2" -t set,get -d 128 -c 64 -n "$N" -r 100000 -q 2>/dev/null \
        | tr '\r' '\n' | grep 'requests per second' | sed "s/^/$1 /"
}

cargo build --release -p raft-kv
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/raft-kv
dir=$(mktemp -d /tmp/raft-kv-vs-redis.XXXXXX)
trap 'kill $kv $rs 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
rs=""
"$bin" dev --dir "$dir/kv" --port 7379 --log warn >"$dir/kv.log" 2>&1 &
kv=$!
leader=""
for _ in $(seq 1 100); do
    for p in 7379 7380 7381; do
        redis-cli -p "$p" info raft 2>/dev/null | grep -q role:leader && leader=$p
    done
    [ -n "$leader" ] && break
    sleep 0.2
done
[ -n "$leader" ] || { echo "no leader elected" >&2; exit 1; }
follower=$(for p in 7379 7380 7381; do [ "$p" != "$leader" ] && echo "$p"; done | head -1)
bench "raft-kv(leader)" "$leader"
bench "raft-kv(follower)" "$follower"
kill "$kv"; wait "$kv" 2>/dev/null || true

mkdir -p "$dir/redis"
redis-server --bind 127.0.0.1 --port 7390 --dir "$dir/redis" --save '' \
    --appendonly yes --appendfsync always >"$dir/redis.log" 2>&1 &
rs=$!
for _ in $(seq 1 50); do redis-cli -p 7390 ping >/dev/null 2>&1 && break; sleep 0.1; done
bench "redis(appendfsync-always)" 7390
