#!/usr/bin/env bash
# Encrypted against plain PutRecords on one server (docs/performance.md, issue 13): two streams
# of 4 shards on the embedded storage, one encrypted with the AWS managed key
# (alias/aws/kinesis) of the built-in key service, loaded in turn by the neutral yardstick
# (shared/bench/put_records.lua under wrk), same connections and record size.
#
# usage: scripts/bench_encryption.sh RELEASE_BINARY OUTDIR [SECONDS] [ROUNDS] [CONNECTIONS]
set -euo pipefail
BIN=$1 OUT=$2 DUR=${3:-10} ROUNDS=${4:-3} CONNS=${5:-16}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" 2>/dev/null && pwd || true)
BENCH=${BENCH_DIR:-$BENCH}
mkdir -p "$OUT"
DATA=$(mktemp -d -t tributary-bench.XXXXXX)
PORT=${PORT:-4811}
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" >"$OUT/server.stdout" 2>"$OUT/server.log" </dev/null &
PID=$!
cleanup() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q '^TRIBUTARY_LISTENING' "$OUT/server.stdout" 2>/dev/null && break; sleep 0.1; done

api() { # TARGET BODY (an unverified SigV4 header, as compare.sh sends; the server is open)
  local d; d=$(date -u +%Y%m%dT%H%M%SZ)
  curl -sf -X POST "http://127.0.0.1:$PORT" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: Kinesis_20131202.$1" -H "X-Amz-Date: $d" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=AKID/${d:0:8}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd" \
    --data-binary "$2"
}
active() { for _ in $(seq 100); do api DescribeStreamSummary "{\"StreamName\":\"$1\"}" | grep -q '"ACTIVE"' && return 0; sleep 0.2; done; echo "$1 not ACTIVE"; exit 1; }
api CreateStream '{"StreamName":"plain","ShardCount":4}' >/dev/null
api CreateStream '{"StreamName":"secret","ShardCount":4}' >/dev/null
active plain; active secret
api StartStreamEncryption '{"StreamName":"secret","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}' >/dev/null
active secret
api DescribeStreamSummary '{"StreamName":"secret"}' | grep -q '"EncryptionType":"KMS"' || { echo "secret is not encrypted"; exit 1; }

run() { # STREAM OUTFILE
  wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 30s -s "$BENCH/put_records.lua" "http://127.0.0.1:$PORT" -- "$1" 500 1024 >"$2" 2>&1
  grep -o 'rec_s=[0-9.]*' "$2" | tail -1 | cut -d= -f2
}
for r in $(seq "$ROUNDS"); do
  p=$(run plain "$OUT/plain-$r.txt")
  e=$(run secret "$OUT/secret-$r.txt")
  echo "round $r: PutRecords 500 x 1 KiB, $CONNS connections: plain ${p} rec/s, encrypted ${e} rec/s, ratio $(awk -v a="$e" -v b="$p" 'BEGIN{printf "%.3f", a/b}')" | tee -a "$OUT/summary.txt"
done
