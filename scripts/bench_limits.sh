#!/usr/bin/env bash
# What metrics and limit checks cost PutRecords (docs/performance.md, issue 14). One 4-shard
# stream on the embedded storage, loaded by the neutral yardstick (shared/bench/put_records.lua
# under wrk), same connections and record size, against three servers in turn each round:
#   before   a binary built from before issue 14 (no metrics, no limits): the baseline
#   off      this release with `--limits off` (the default): the metrics are always counted
#   checked  this release with a [limits] table of rates no load here reaches, so every
#            request walks the token buckets and nothing is throttled
# Each server gets a new data directory, and each round starts with the next of the three, so
# a drift of the disk's speed does not favour one. A refused call or entry stops the run: it
# would measure throttling, not the checks. DURABILITY=interval:1000 takes the fsync off the
# acknowledgement, leaving the CPU the bottleneck, where the checks' cost shows most.
#
# usage: [DURABILITY=sync] scripts/bench_limits.sh BEFORE_BINARY RELEASE_BINARY OUTDIR [SECONDS] [ROUNDS] [CONNECTIONS]
set -euo pipefail
OLD=$1 NEW=$2 OUT=$3 DUR=${4:-10} ROUNDS=${5:-3} CONNS=${6:-16}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" 2>/dev/null && pwd || true)
BENCH=${BENCH_DIR:-$BENCH}
PORT=${PORT:-4812}
DURABILITY=${DURABILITY:-sync}
mkdir -p "$OUT"
cat >"$OUT/checked.toml" <<'EOF'
# Every check runs, none refuses: ~1 TiB/s and ~1e12 records/s per shard.
[limits]
write_bytes_per_sec = 1099511627776
write_records_per_sec = 1000000000000
read_bytes_per_sec = 1099511627776
read_calls_per_sec = 1000000000
iterator_calls_per_sec = 1000000000
subscribe_bytes_per_sec = 1099511627776
EOF

PID= DATA=
stop_server() {
  [[ -n $PID ]] && { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [[ -n $DATA ]] && rm -rf "$DATA"
  PID= DATA=
}
trap stop_server EXIT

api() { # TARGET BODY (an unverified SigV4 header, as compare.sh sends; the server is open)
  local d; d=$(date -u +%Y%m%dT%H%M%SZ)
  curl -sS --fail-with-body -X POST "http://127.0.0.1:$PORT" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: Kinesis_20131202.$1" -H "X-Amz-Date: $d" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=AKID/${d:0:8}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd" \
    --data-binary "$2"
}

start_server() { # NAME BINARY ARGS...
  local name=$1 bin=$2; shift 2
  DATA=$(mktemp -d -t tributary-bench.XXXXXX)
  "$bin" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" --durability "$DURABILITY" "$@" \
    >"$OUT/$name.stdout" 2>"$OUT/$name.log" </dev/null &
  PID=$!
  for _ in $(seq 100); do grep -q '^TRIBUTARY_LISTENING' "$OUT/$name.stdout" 2>/dev/null && break; sleep 0.1; done
  local created=
  for _ in $(seq 20); do
    api CreateStream '{"StreamName":"bench","ShardCount":4}' >"$OUT/$name.create" 2>&1 && { created=1; break; }
    sleep 0.5
  done
  [[ -n $created ]] || { echo "$name: CreateStream failed: $(cat "$OUT/$name.create")"; exit 1; }
  for _ in $(seq 100); do
    api DescribeStreamSummary '{"StreamName":"bench"}' | grep -q '"ACTIVE"' && return 0
    sleep 0.2
  done
  echo "$name: stream not ACTIVE"; exit 1
}

run() { # NAME BINARY ARGS...: the wrk output goes to OUT/NAME-ROUND.txt
  local name=$1; shift
  start_server "$name" "$@"
  wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 30s -s "$BENCH/put_records.lua" "http://127.0.0.1:$PORT" \
    -- bench 500 1024 >"$OUT/$name-$ROUND.txt" 2>&1
  # The server's CPU time (user + system, start-up included) per accepted record: less
  # noisy than records/s where client and server share the cores.
  local ticks records
  ticks=$(awk '{print $14 + $15}' "/proc/$PID/stat")
  records=$(grep -o ' records=[0-9]*' "$OUT/$name-$ROUND.txt" | tail -1 | cut -d= -f2)
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$records" 'BEGIN{printf "%.2f\n", t / hz * 1e6 / n}' \
    >"$OUT/$name-$ROUND.cpu"
  stop_server
  # Every entry accepted, or the run measured throttling rather than the checks' cost.
  grep -q 'non2xx=0 sock_errors=0 timeouts=0 .* failed_records=0 ' "$OUT/$name-$ROUND.txt" ||
    { echo "$name, round $ROUND: refused calls or entries:"; grep KDS_RESULT "$OUT/$name-$ROUND.txt"; exit 1; }
}
field() { # NAME KEY
  grep -o " $2=[0-9.]*" "$OUT/$1-$ROUND.txt" | tail -1 | cut -d= -f2
}

echo "PutRecords 500 x 1 KiB, 4 shards, $CONNS connections, ${DUR} s, durability $DURABILITY; records/s (p50 / p99 ms) [server CPU µs per record]" | tee -a "$OUT/summary.txt"
configs=(before off checked)
for ROUND in $(seq "$ROUNDS"); do
  for k in 0 1 2; do
    case ${configs[$(((ROUND - 1 + k) % 3))]} in
      before) run before "$OLD" ;;
      off) run off "$NEW" --limits off ;;
      checked) run checked "$NEW" --config "$OUT/checked.toml" ;;
    esac
  done
  line="round $ROUND:"
  for n in before off checked; do
    line+=" $n $(field $n rec_s) ($(field $n p50_ms) / $(field $n p99_ms)) [$(cat "$OUT/$n-$ROUND.cpu")]"
    [[ $n == before ]] || line+=" x$(awk -v a="$(field $n rec_s)" -v b="$(field before rec_s)" 'BEGIN{printf "%.3f", a/b}')"
    line+=";"
  done
  echo "${line%;}" | tee -a "$OUT/summary.txt"
done
