#!/usr/bin/env bash
# The KCL 3.x scenario (issue 15; the facts behind it are in FINDINGS.md): one KCL worker
# consumes a stream while it is resharded, is stopped, and a second worker resumes from the
# checkpoints; scenario.py checks that every record was processed exactly once, as sent, in
# order per shard, parents before children.
#
# Usage: tests/clients/kcl/run.sh BINARY [polling|efo] [scenario.py flags...]
#   polling: PollingConfig (GetRecords); efo: enhanced fan-out (SubscribeToShard), the KCL's
#   default. Flags: --reshard split|update, --soak S, --kill --wait S, --records N, --compat2x.
# Env: KCL_MODE, KCL_FLAGS   mode and flags when not given as arguments (tests/clients/run.sh)
#      KCL_TIMEOUT           seconds for scenario.py (default 480)
#      KCL_LOGS              folder for the logs (default: a new temp folder)
#      KCL_AUTH=0            accept any key (default 1: Tributary verifies every signature)
#      TRIBUTARY_ARGS        more `serve` flags, e.g. "--subscription-lifetime-ms 15000"
#      TRIBUTARY_M2          Maven repository (default $HOME/.cache/tributary/m2)
# Starts moto's DynamoDB server (the lease table) and Tributary on free loopback ports,
# compiles the worker offline from the repository tests/clients/install.sh filled, runs
# scenario.py, and stops everything on exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 1 || ! -x $1 ]]; then
  echo "usage: $0 BINARY [polling|efo] [scenario.py flags...]" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
MODE=${2:-${KCL_MODE:-polling}}
if [[ $# -ge 3 ]]; then
  EXTRA=("${@:3}")
else
  read -r -a EXTRA <<<"${KCL_FLAGS:-}"
fi
TIMEOUT=${KCL_TIMEOUT:-480}
LOGS=${KCL_LOGS:-$(mktemp -d -t kcl-logs.XXXXXX)}
M2=${TRIBUTARY_M2:-$HOME/.cache/tributary/m2}
if [[ ! -x $HERE/.venv/bin/moto_server ]]; then
  echo "run.sh: $HERE/.venv is missing; run tests/clients/install.sh first" >&2
  exit 2
fi
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
# Debian's Maven prints colour resets even with -q: its output is shown only on failure.
if ! (cd "$HERE" && mvn -o -q -B -Dmaven.repo.local="$M2" compile) >"$LOGS/mvn.log" 2>&1; then
  cat "$LOGS/mvn.log"
  echo "run.sh: mvn compile failed (offline, from $M2)" >&2
  exit 1
fi
echo "build: $((SECONDS - t0))s"

free_port() { "$HERE/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DPORT=$(free_port)
"$HERE/.venv/bin/moto_server" -H 127.0.0.1 -p "$DPORT" >"$LOGS/moto.log" 2>&1 &
PIDS+=($!)
# Tributary gets the key the workers sign with (AKIDEXAMPLE/secret) and so verifies every
# signature, as tests/clients/run.sh does; KCL_AUTH=0 lets any key in.
AUTH_ENV=()
if [[ ${KCL_AUTH:-1} == 1 ]]; then
  AUTH_ENV=(TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret)
fi
env "${AUTH_ENV[@]}" RUST_LOG="${RUST_LOG:-info,tributary::request=debug}" "$BIN" serve --bind 127.0.0.1:0 \
  --data-dir "$DATA" ${TRIBUTARY_ARGS:-} >"$LOGS/tributary.stdout" 2>"$LOGS/tributary.log" </dev/null &
PIDS+=($!)
for _ in $(seq 300); do
  line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$LOGS/tributary.stdout" || true)
  [[ -n $line ]] && break
  sleep 0.1
done
if [[ -z $line ]]; then
  echo "FAIL: Tributary did not start; its log:"
  tail -n 40 "$LOGS/tributary.log"
  exit 1
fi
KINESIS="http://${line#TRIBUTARY_LISTENING }"
for _ in $(seq 300); do
  (exec 3<>/dev/tcp/127.0.0.1/"$DPORT") 2>/dev/null && break
  sleep 0.1
done
echo "tributary $KINESIS, moto http://127.0.0.1:$DPORT, logs $LOGS"
rc=0
t1=$SECONDS
timeout --kill-after=10 "$TIMEOUT" "$HERE/.venv/bin/python" "$HERE/scenario.py" \
  "$KINESIS" "http://127.0.0.1:$DPORT" "$LOGS" --mode "$MODE" "${EXTRA[@]}" || rc=$?
echo "scenario: $((SECONDS - t1))s, exit $rc; logs in $LOGS"
if [[ $rc -ne 0 ]]; then
  for f in tributary.log worker1.log worker2.log; do
    [[ -f $LOGS/$f ]] || continue
    echo "last lines of $f:"
    tail -n 25 "$LOGS/$f" | sed 's/^/  | /'
  done
fi
exit $rc
