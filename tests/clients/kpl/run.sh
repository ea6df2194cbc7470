#!/usr/bin/env bash
# The Kinesis Producer Library writes aggregated records to Tributary over TLS, a KCL 3.x worker
# reads them back de-aggregated (issue 15; see FINDINGS.md and scenario.py).
#
# Usage: tests/clients/kpl/run.sh BINARY [polling|efo] [scenario.py flags: --rounds N --keys N
#        --shards N --wait S]
# Starts moto (the KCL's lease table) and Tributary with TLS (certificate from `BINARY cert`)
# and signature checks (AKIDEXAMPLE/secret) on free 127.0.0.1 ports, builds this project and
# tests/clients/kcl (whose KclApp is the consumer; moto and boto3 come from kcl/.venv), runs
# scenario.py bounded by KPL_TIMEOUT seconds (default 480), stops everything on exit. Exit 0
# only if every check passed.
# Env: KPL_MODE, KPL_FLAGS mode and flags when not given as arguments (tests/clients/run.sh);
# KPL_LOGS keep the logs there (default: a new temp folder); TRIBUTARY_M2 Maven repository
# (default $HOME/.cache/tributary/m2; tests/clients/install.sh fills it, this compiles
# offline); KPL_NATIVE_DIR where the KPL extracts its 89 MB native daemon (default
# $HOME/.cache/tributary/kpl-native, reused across runs); RUST_LOG (default
# info,tributary::request=debug); TRIBUTARY_ARGS more `serve` flags.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KCL=$(cd "$HERE/../kcl" && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: $0 BINARY [polling|efo] [scenario flags]" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
MODE=${2:-${KPL_MODE:-polling}}
if [[ $# -ge 3 ]]; then
  EXTRA=("${@:3}")
else
  read -r -a EXTRA <<<"${KPL_FLAGS:-}"
fi
VENV=$KCL/.venv
if [[ ! -x $VENV/bin/moto_server ]]; then
  echo "run.sh: $VENV is missing; run tests/clients/install.sh first" >&2
  exit 2
fi
TIMEOUT=${KPL_TIMEOUT:-480}
LOGS=${KPL_LOGS:-$(mktemp -d -t kpl-logs.XXXXXX)}
M2=${TRIBUTARY_M2:-$HOME/.cache/tributary/m2}
NATIVE=${KPL_NATIVE_DIR:-$HOME/.cache/tributary/kpl-native}
mkdir -p "$LOGS" "$NATIVE"
# shellcheck source=../kcl/harness.sh
source "$KCL/harness.sh"
compile_offline "$HERE" "$KCL"
start_moto
# TLS: a CA and a server certificate for 127.0.0.1 (every client connects to the IP).
"$BIN" cert --out "$LOGS/tls" --san 127.0.0.1 --san localhost >/dev/null
# Users configured: Tributary verifies the SigV4 signature of every request.
export TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret
# shellcheck disable=SC2086 # TRIBUTARY_ARGS is a list of flags
start_tributary https "$BIN" --tls-cert "$LOGS/tls/server.pem" --tls-key "$LOGS/tls/server-key.pem" \
  ${TRIBUTARY_ARGS:-}
echo "tributary $KINESIS, moto $DDB_URL, logs $LOGS"
rc=0
t1=$SECONDS
timeout --kill-after=10 "$TIMEOUT" "$VENV/bin/python" "$HERE/scenario.py" \
  "$KINESIS" "$DDB_URL" "$LOGS/tls/ca.pem" "$LOGS" \
  --kcl-dir "$KCL" --kpl-dir "$HERE" --native-dir "$NATIVE" --mode "$MODE" "${EXTRA[@]}" || rc=$?
echo "scenario: $((SECONDS - t1))s, exit $rc; logs in $LOGS"
if ! kill -0 "$TPID" 2>/dev/null; then
  echo "FAIL: Tributary died during the scenario"; rc=1
fi
exit $rc
