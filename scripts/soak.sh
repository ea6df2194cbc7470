#!/usr/bin/env bash
# Memory and restart under volume (issue 3's acceptance): ingest GIB gibibytes of durable
# PutRecords (500 x 1 KiB) into a fresh server, sampling its RSS, then SIGKILL it and time
# the restart until it answers ListStreams. Prints one SOAK line with the figures.
#
# usage: scripts/soak.sh [GIB=4] [BINARY=target/release/tributary]
# Loopback only; stops everything it started; the data directory is removed at the end.
set -euo pipefail
GIB=${1:-4}
BIN=${2:-target/release/tributary}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x "$BIN" ] || cargo build --release -p tributary
DATA=$(mktemp -d -p "${SOAK_DIR:-$ROOT/target}" soak.XXXXXX)
PORT=${SOAK_PORT:-4760}
PID="" SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

start() {
  "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA/d" >"$DATA/out" 2>>"$DATA/log" &
  PID=$!
}
ready() { # waits until ListStreams answers 200
  local d
  for _ in $(seq 1 3000); do
    d=$(date -u +%Y%m%dT%H%M%SZ)
    if curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/" \
      -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
      -H "X-Amz-Date: $d" \
      -H "Authorization: AWS4-HMAC-SHA256 Credential=AKID/${d:0:8}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd" \
      -d '{}' 2>/dev/null | grep -q 200; then return 0; fi
    sleep 0.01
  done
  echo "server not ready" >&2; return 1
}

start
ready
# RSS sampler: the peak of the server process, in KiB.
( peak=0; while kill -0 "$PID" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" > "$DATA/peak"
    sleep 0.2
  done ) &
SAMPLER=$!

target=$((GIB * 1024 * 1024 * 1024))
done_bytes=0
runs=0
while [ "$done_bytes" -lt "$target" ]; do
  line=$("$BIN" bench --endpoint "http://127.0.0.1:$PORT" --workload put-records --batch 500 \
    --record-size 1024 --shards 4 --connections 16 --duration 10 --warmup 0 --json 2>/dev/null | tail -1)
  recs=$(echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d.get("records", 0)))')
  done_bytes=$((done_bytes + recs * 1024))
  runs=$((runs + 1))
  echo "run $runs: $recs records, total $((done_bytes / 1048576)) MiB" >&2
  [ "$recs" -gt 0 ] || { echo "no records accepted" >&2; exit 1; }
done
peak_kib=$(cat "$DATA/peak")
disk=$(du -sk "$DATA/d" | cut -f1)

kill -9 "$PID"; wait "$PID" 2>/dev/null || true
t0=$(date +%s.%N)
start
ready
t1=$(date +%s.%N)
restart_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
echo "SOAK ingested_mib=$((done_bytes / 1048576)) peak_rss_mib=$((peak_kib / 1024)) disk_mib=$((disk / 1024)) restart_ready_s=$restart_s"
