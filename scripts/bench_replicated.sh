#!/usr/bin/env bash
# Side-by-side load runs for the replicated tier (docs/performance.md, issue 12), all on this
# machine: the embedded default against one Tributary node on a 3-node NATS JetStream cluster
# (shared/bench/compare.sh), then how PutRecords throughput moves from one node to two nodes
# on the same cluster (wrk on each node at once, same total connections).
#
# usage: scripts/bench_replicated.sh RELEASE_BINARY NATSKIT_CLUSTER_BINARY OUTDIR [SECONDS] [ROUNDS]
set -euo pipefail
BIN=$1 NATSKIT=$2 OUT=$3 DUR=${4:-10} ROUNDS=${5:-2}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" 2>/dev/null && pwd || true)
BENCH=${BENCH_DIR:-$BENCH}
mkdir -p "$OUT"
DATA=$(mktemp -d -t tributary-bench.XXXXXX)

coproc NATS { "$NATSKIT" 3 2>"$OUT/natskit.log"; }
read -r line <&"${NATS[0]}"
URLS=${line#NATS_URLS=}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait "${PIDS[@]}" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

node() { # PORT ARGS...
  local port=$1; shift
  "$BIN" serve --bind "127.0.0.1:$port" "$@" >"$OUT/node-$port.stdout" 2>"$OUT/node-$port.log" </dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q '^TRIBUTARY_LISTENING' "$OUT/node-$port.stdout" 2>/dev/null && return 0; sleep 0.1; done
  echo "node on $port did not start"; tail "$OUT/node-$port.log"; exit 1
}

node 4801 --data-dir "$DATA/embedded"
node 4802 --storage "$URLS" --nats-prefix benchA
node 4803 --storage "$URLS" --nats-prefix benchA
echo "cluster $URLS; embedded :4801, nats nodes :4802 :4803 (one prefix)"

if [[ ${SKIP_COMPARE:-0} != 1 ]]; then
  bash "$BENCH/compare.sh" -d "$DUR" -r "$ROUNDS" -o "$OUT/compare" \
    embedded=http://127.0.0.1:4801 nats=http://127.0.0.1:4802 | tee "$OUT/compare.txt"
fi

# Scaling: one stream of 4 shards; 32 connections on one node, then 16 on each of two.
api() { # PORT TARGET BODY (the same unverified SigV4 header as compare.sh)
  local d; d=$(date -u +%Y%m%dT%H%M%SZ)
  curl -s -X POST "http://127.0.0.1:$1" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: Kinesis_20131202.$2" -H "X-Amz-Date: $d" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=AKID/${d:0:8}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd" \
    --data-binary "$3"
}
api 4802 CreateStream '{"StreamName":"scale","ShardCount":4}' >/dev/null
for _ in $(seq 100); do api 4803 DescribeStreamSummary '{"StreamName":"scale"}' | grep -q ACTIVE && break; sleep 0.2; done
run() { # PORT CONNS OUTFILE
  wrk -t1 -c"$2" -d"${DUR}s" --timeout 30s -s "$BENCH/put_records.lua" "http://127.0.0.1:$1" -- scale 500 1024 > "$3" 2>&1
}
for r in $(seq "$ROUNDS"); do
  run 4802 32 "$OUT/scale-one-$r.txt"
  run 4802 16 "$OUT/scale-two-a-$r.txt" & a=$!
  run 4803 16 "$OUT/scale-two-b-$r.txt"; wait $a
  one=$(grep -o 'rec_s=[0-9.]*' "$OUT/scale-one-$r.txt" | tail -1 | cut -d= -f2)
  ta=$(grep -o 'rec_s=[0-9.]*' "$OUT/scale-two-a-$r.txt" | tail -1 | cut -d= -f2)
  tb=$(grep -o 'rec_s=[0-9.]*' "$OUT/scale-two-b-$r.txt" | tail -1 | cut -d= -f2)
  echo "round $r: PutRecords one node ${one} rec/s; two nodes ${ta} + ${tb} = $(awk -v a="$ta" -v b="$tb" 'BEGIN{print a+b}') rec/s" | tee -a "$OUT/scale.txt"
done
