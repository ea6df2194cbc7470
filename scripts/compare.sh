#!/usr/bin/env bash
# Tributary side by side with the Kinesis-compatible servers that install from the package
# registries, on loopback, with the neutral wrk + Lua yardstick (../shared/bench/compare.sh),
# then `tributary bench` for the PutRecords latency at a fixed open-loop rate.
#
# usage: scripts/compare.sh [options]
#   -d SECS    duration of each wrk run [10]
#   -r N       rounds (interleaved, endpoint order rotated) [2]
#   -P LIST    peers besides Tributary, comma separated, from
#              ferrokinesis, ferrokinesis-durable, kinesalite, kinesalite-durable [all four]
#   -R RATE    open-loop PutRecords requests/s for the latency run (500 x 1 KiB each) [100]
#   -Q RATE    open-loop PutRecord requests/s for the latency run (1 KiB each) [5000]
#   -o DIR     keep the yardstick's raw output, results.tsv and the bench JSON in DIR
#   -p PORT    first loopback port; the servers take PORT, PORT+1, ... [4710]
#   -M MIN     give up on the yardstick after MIN minutes [45]
#
# Servers: Tributary (release build, fresh data dir, default durable settings: fsync before
# every acknowledgement); ferrokinesis in memory and with --state-dir (WAL + fsync per write);
# kinesalite in memory and with --path (LevelDB). Installs what is missing: wrk (apt, as
# root), ferrokinesis (cargo install --root CACHE), kinesalite (npm install --prefix CACHE),
# with CACHE = $TRIBUTARY_BENCH_CACHE or ~/.cache/tributary-bench. The yardstick is found at
# ../shared/bench next to the repository, or in $BENCH_DIR.
#
# Every request goes to 127.0.0.1. (ferrokinesis and kinesalite cannot be told to listen on
# loopback only; nothing but this script talks to them, and they are stopped at the end.)
# Everything started here is stopped by PID on exit, and the data directories removed.
set -euo pipefail

DUR=10 ROUNDS=2 PEERS=ferrokinesis,ferrokinesis-durable,kinesalite,kinesalite-durable
RATE=100 PRATE=5000 OUTDIR="" PORT=4710 MAXMIN=45
while getopts "d:r:P:R:Q:o:p:M:h" opt; do
  case $opt in
    d) DUR=$OPTARG ;; r) ROUNDS=$OPTARG ;; P) PEERS=$OPTARG ;; R) RATE=$OPTARG ;; Q) PRATE=$OPTARG ;;
    o) OUTDIR=$OPTARG ;; p) PORT=$OPTARG ;; M) MAXMIN=$OPTARG ;;
    h|*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TRIBUTARY_BENCH_CACHE:-$HOME/.cache/tributary-bench}
FERRO_VERSION=${FERRO_VERSION:-0.7.0}
YARDSTICK=$ROOT/../shared/bench
[ -x "$YARDSTICK/compare.sh" ] || YARDSTICK=${BENCH_DIR:-}
[ -n "$YARDSTICK" ] && [ -f "$YARDSTICK/compare.sh" ] \
  || { echo "the yardstick is not at $ROOT/../shared/bench; set BENCH_DIR" >&2; exit 2; }

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

WORK=$(mktemp -d)
[ -n "$OUTDIR" ] || OUTDIR=$WORK/out
mkdir -p "$OUTDIR" "$CACHE"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "wrk is missing; install it (apt-get install wrk)" >&2; exit 2; }
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in curl awk ss ps python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

FERRO=$CACHE/ferrokinesis/bin/ferrokinesis
KINESALITE=$CACHE/kinesalite/node_modules/kinesalite/cli.js
if [[ $PEERS == *ferrokinesis* ]] && [ ! -x "$FERRO" ]; then
  log "installing ferrokinesis $FERRO_VERSION into $CACHE (a few minutes of compiling)"
  cargo install ferrokinesis --version "$FERRO_VERSION" --locked --root "$CACHE/ferrokinesis" >"$CACHE/ferrokinesis-install.log" 2>&1 \
    || cargo install ferrokinesis --version "$FERRO_VERSION" --root "$CACHE/ferrokinesis" >>"$CACHE/ferrokinesis-install.log" 2>&1
fi
if [[ $PEERS == *kinesalite* ]] && [ ! -f "$KINESALITE" ]; then
  command -v npm >/dev/null || { echo "kinesalite needs node and npm" >&2; exit 2; }
  log "installing kinesalite into $CACHE"
  mkdir -p "$CACHE/kinesalite"
  npm install --prefix "$CACHE/kinesalite" kinesalite >"$CACHE/kinesalite-install.log" 2>&1
fi

log "building Tributary (release)"
(cd "$ROOT" && cargo build --release -p tributary) >&2
TRIBUTARY=$ROOT/target/release/tributary
if "$TRIBUTARY" bench --help >/dev/null 2>&1; then
  BENCH=("$TRIBUTARY" bench)
else
  (cd "$ROOT" && cargo build --release -p tributary-bench --example bench) >&2
  BENCH=("$ROOT/target/release/examples/bench")
fi

# --- servers -----------------------------------------------------------------------------
wait_port() { # PORT PID NAME
  local i
  for i in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || { log "$3 exited; see $WORK/$3.log"; cat "$WORK/$3.log" >&2; exit 1; }
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  log "$3 is not listening on $1 after 30 s"; exit 1
}
start() { # NAME CMD... (logs to $WORK/NAME.log)
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_port "$NEXT_PORT" "$!" "$name"
  ENDPOINTS+=("$name=http://127.0.0.1:$NEXT_PORT")
  log "$name listening on 127.0.0.1:$NEXT_PORT (pid $!)"
  NEXT_PORT=$((NEXT_PORT + 1))
}
mkdir -p "$WORK/data"
ENDPOINTS=() NEXT_PORT=$PORT
TPORT=$NEXT_PORT
start tributary "$TRIBUTARY" serve --bind "127.0.0.1:$TPORT" --data-dir "$WORK/data/tributary" --log warn
for peer in ${PEERS//,/ }; do
  case $peer in
    ferrokinesis) start "$peer" "$FERRO" --port "$NEXT_PORT" --create-stream-ms 0 --delete-stream-ms 0 \
        --shard-limit 10000 --log-level error ;;
    ferrokinesis-durable) start "$peer" "$FERRO" --port "$NEXT_PORT" --create-stream-ms 0 --delete-stream-ms 0 \
        --shard-limit 10000 --log-level error --state-dir "$WORK/data/ferrokinesis" ;;
    kinesalite) start "$peer" node "$KINESALITE" --port "$NEXT_PORT" --createStreamMs 0 --deleteStreamMs 0 \
        --shardLimit 10000 ;;
    kinesalite-durable) mkdir -p "$WORK/data/kinesalite"
      start "$peer" node "$KINESALITE" --port "$NEXT_PORT" --createStreamMs 0 --deleteStreamMs 0 \
        --shardLimit 10000 --path "$WORK/data/kinesalite" ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
done

# --- the yardstick -----------------------------------------------------------------------
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
log "yardstick: -d $DUR -r $ROUNDS -s 4 -c 16 -t 2 over ${ENDPOINTS[*]}"
timeout "${MAXMIN}m" "$YARDSTICK/compare.sh" -d "$DUR" -r "$ROUNDS" -s 4 -c 16 -t 2 -o "$OUTDIR" \
  "${ENDPOINTS[@]}" || log "the yardstick stopped early (exit $?); the table above may be partial"

# --- open-loop PutRecords latency on Tributary -------------------------------------------
echo
echo "== tributary bench (JSON lines): PutRecords 500 x 1 KiB at $RATE requests/s, then PutRecord 1 KiB at $PRATE requests/s; open loop, 16 connections, ${DUR}s each"
"${BENCH[@]}" --endpoint "http://127.0.0.1:$TPORT" --stream "bench-openloop-$$" --shards 4 \
  --workload put-records --batch 500 --record-size 1024 --connections 16 --rate "$RATE" \
  --duration "$DUR" --warmup 2 --json | tee "$OUTDIR/tributary-bench-put-records.json"
"${BENCH[@]}" --endpoint "http://127.0.0.1:$TPORT" --stream "bench-openloop-$$" --shards 4 \
  --workload put-record --connections 16 --rate "$PRATE" \
  --duration "$DUR" --warmup 2 --json | tee "$OUTDIR/tributary-bench-put-record.json"
echo "RSS of tributary after everything: $(ps -o rss= -p "${PIDS[0]}" | awk '{printf "%.0f MiB", $1/1024}')"
[ "$OUTDIR" = "$WORK/out" ] || echo "raw results in $OUTDIR"
