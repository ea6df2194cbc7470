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
VENV=$HERE/.venv
if [[ ! -x $VENV/bin/moto_server ]]; then
  echo "run.sh: $VENV is missing; run tests/clients/install.sh first" >&2
  exit 2
fi
mkdir -p "$LOGS"
# shellcheck source=harness.sh
source "$HERE/harness.sh"
compile_offline "$HERE"
start_moto
# Tributary gets the key the workers sign with (AKIDEXAMPLE/secret) and so verifies every
# signature, as tests/clients/run.sh does; KCL_AUTH=0 lets any key in.
if [[ ${KCL_AUTH:-1} == 1 ]]; then
  export TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret
fi
# shellcheck disable=SC2086 # TRIBUTARY_ARGS is a list of flags
start_tributary http "$BIN" ${TRIBUTARY_ARGS:-}
echo "tributary $KINESIS, moto $DDB_URL, logs $LOGS"
rc=0
t1=$SECONDS
timeout --kill-after=10 "$TIMEOUT" "$VENV/bin/python" "$HERE/scenario.py" \
  "$KINESIS" "$DDB_URL" "$LOGS" --mode "$MODE" "${EXTRA[@]}" || rc=$?
echo "scenario: $((SECONDS - t1))s, exit $rc; logs in $LOGS"
if [[ $rc -ne 0 ]]; then
  for f in tributary.log worker1.log worker2.log; do
    [[ -f $LOGS/$f ]] || continue
    echo "last lines of $f:"
    tail -n 25 "$LOGS/$f" | sed 's/^/  | /'
  done
fi
exit $rc
