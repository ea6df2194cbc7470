#!/usr/bin/env bash
# Runs a KCL 3.x worker against Tributary (issue 15, prototype; see FINDINGS.md).
#
# Usage: tests/clients/kcl/run.sh BINARY [dynalite|moto] [polling|efo] [--compat2x]
# Starts the DynamoDB-compatible server (lease, coordinator-state and worker-metrics tables)
# and Tributary on free loopback ports, builds the Maven project, runs scenario.py bounded by
# KCL_TIMEOUT seconds (default 600), and stops everything on exit. Logs stay in $KCL_LOGS
# (default: a new temp folder). RUST_LOG defaults to info,tributary::request=debug.
# KCL_AUTH=1: Tributary verifies every signature (key AKIDEXAMPLE/secret).
# TRIBUTARY_ARGS: more `serve` flags, e.g. "--subscription-lifetime-ms 15000".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DDB=${2:-moto}
MODE=${3:-polling}
EXTRA=("${@:4}")
TIMEOUT=${KCL_TIMEOUT:-600}
LOGS=${KCL_LOGS:-$(mktemp -d -t kcl-logs.XXXXXX)}
M2=${M2_REPO:-$HOME/.cache/tributary/m2}
mkdir -p "$LOGS"
PIDS=()
DATA=$(mktemp -d -t kcl-data.XXXXXX)
cleanup() {
  # Workers scenario.py started (it writes their pids), in case the timeout ended it first.
  for f in "$LOGS"/worker*.pid; do
    [[ -f $f ]] || continue
    p=$(cat "$f")
    # Only if that pid is still a KclApp JVM (not a reused pid).
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q tributary.kcl.KclApp; then
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
# Dependencies, each redone only when missing.
if [[ ! -x $HERE/.venv/bin/moto_server ]]; then
  nice -n 19 python3 -m venv "$HERE/.venv"
  nice -n 19 "$HERE/.venv/bin/pip" install -q -r "$HERE/requirements.txt"
fi
if [[ ! -x $HERE/node_modules/.bin/dynalite ]]; then
  (cd "$HERE" && nice -n 19 npm install --no-audit --no-fund --silent)
fi
(cd "$HERE" && nice -n 19 mvn -q -B -Dmaven.repo.local="$M2" compile)
echo "dependencies and build: $((SECONDS - t0))s"

free_port() { "$HERE/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DPORT=$(free_port)
case $DDB in
  dynalite) nice -n 19 "$HERE/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$DPORT" \
              --createTableMs 50 --deleteTableMs 50 --updateTableMs 50 >"$LOGS/dynalite.log" 2>&1 & ;;
  moto) nice -n 19 "$HERE/.venv/bin/moto_server" -H 127.0.0.1 -p "$DPORT" >"$LOGS/moto.log" 2>&1 & ;;
  *) echo "unknown DynamoDB server $DDB" >&2; exit 2 ;;
esac
PIDS+=($!)
# KCL_AUTH=1: Tributary gets the key the clients sign with (AKIDEXAMPLE/secret) and so verifies
# every signature (as tests/clients/run.sh does); default 0: any key is accepted.
AUTH_ENV=()
if [[ ${KCL_AUTH:-0} == 1 ]]; then
  AUTH_ENV=(TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret)
fi
env "${AUTH_ENV[@]}" RUST_LOG="${RUST_LOG:-info,tributary::request=debug}" nice -n 19 "$BIN" serve --bind 127.0.0.1:0 \
  --data-dir "$DATA" ${TRIBUTARY_ARGS:-} >"$LOGS/tributary.stdout" 2>"$LOGS/tributary.log" </dev/null &
PIDS+=($!)
for _ in $(seq 300); do
  line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$LOGS/tributary.stdout" || true)
  [[ -n $line ]] && break
  sleep 0.1
done
KINESIS="http://${line#TRIBUTARY_LISTENING }"
for _ in $(seq 300); do
  (exec 3<>/dev/tcp/127.0.0.1/"$DPORT") 2>/dev/null && break
  sleep 0.1
done
echo "tributary $KINESIS, $DDB http://127.0.0.1:$DPORT, logs $LOGS"
rc=0
t1=$SECONDS
timeout --kill-after=10 "$TIMEOUT" "$HERE/.venv/bin/python" "$HERE/scenario.py" \
  "$KINESIS" "http://127.0.0.1:$DPORT" "$LOGS" --mode "$MODE" "${EXTRA[@]}" || rc=$?
echo "scenario: $((SECONDS - t1))s, exit $rc; logs in $LOGS"
exit $rc
