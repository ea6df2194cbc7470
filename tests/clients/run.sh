#!/usr/bin/env bash
# Runs the real-client scenarios against a Tributary binary: each scenario
# gets its own freshly started server on a free loopback port with an empty
# data directory, so scenarios cannot disturb one another.
#
# Usage: tests/clients/run.sh BINARY [SCENARIO...]
#   SCENARIO: boto3, node, awscli, efo, node-efo, secure, kms, throttle, metrics, browser, java,
#             kcl-polling, kcl-efo, kpl, replicated
#             (java: the AWS SDK for Java v2, tests/clients/java/scenario.sh;
#             kcl-polling, kcl-efo: the KCL 3.x with its leases in moto, tests/clients/kcl/run.sh;
#             kpl: the KPL over TLS, read back by the KCL, tests/clients/kpl/run.sh;
#             replicated: the first five against two nodes on a NATS cluster,
#             tests/clients/replicated.sh)
#             (default: all of them, in that order)
# Env:     SCENARIO_TIMEOUT  seconds per scenario (default 600; the CLI scenario
#                            takes ~90 s on an idle machine, more on a busy one)
#          CLIENT_TEST_LOGS  folder for server logs (default: a temp folder)
#
# Exits non-zero if any scenario fails; the last line is
# "clients: N passed, M failed" (scenarios, not checks).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: $0 BINARY [boto3|node|awscli|efo|node-efo|secure|kms|throttle|metrics|browser|java|kcl-polling|kcl-efo|kpl|replicated ...]" >&2
  exit 2
fi
BIN=$1
shift
if [[ ! -x $BIN ]]; then
  echo "run.sh: $BIN is not an executable (build it with: cargo build --bin tributary)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SCENARIOS=("$@")
if [[ ${#SCENARIOS[@]} -eq 0 ]]; then SCENARIOS=(boto3 node awscli efo node-efo secure kms throttle metrics browser java kcl-polling kcl-efo kpl replicated); fi
TIMEOUT=${SCENARIO_TIMEOUT:-600}
LOGS=${CLIENT_TEST_LOGS:-$(mktemp -d -t tributary-client-logs.XXXXXX)}
mkdir -p "$LOGS"

# Dependencies: a no-op when already installed.
bash "$HERE/install.sh"

SERVER_PID=""
DATA_DIR=""
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # Give it time to shut down cleanly, then insist.
    for _ in $(seq 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [[ -n $DATA_DIR ]]; then rm -rf "$DATA_DIR"; fi
  DATA_DIR=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# start_server NAME: starts the binary; sets SERVER_PID and ENDPOINT, or
# START_ERROR and returns 1. (Not called in $(...): the server must be a
# child of this shell so that stop_server can end it.)
start_server() {
  local name=$1 line
  DATA_DIR=$(mktemp -d -t tributary-data.XXXXXX)
  # The scenarios sign with AKIDEXAMPLE/secret: giving the server that key makes it verify
  # every signature the clients make (boto3, the AWS CLI, the JS SDK over HTTP/2).
  TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret \
    "$BIN" serve --bind 127.0.0.1:0 --data-dir "$DATA_DIR" \
    >"$LOGS/$name.server.stdout" 2>"$LOGS/$name.server.log" </dev/null &
  SERVER_PID=$!
  # The server prints "TRIBUTARY_LISTENING 127.0.0.1:PORT" once it accepts
  # connections; the port is only known then (--bind :0).
  for _ in $(seq 300); do
    line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$LOGS/$name.server.stdout" || true)
    if [[ -n $line ]]; then
      ENDPOINT="http://${line#TRIBUTARY_LISTENING }"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      START_ERROR="the server exited before listening"
      return 1
    fi
    sleep 0.1
  done
  START_ERROR="no TRIBUTARY_LISTENING line on stdout within 30 s"
  return 1
}

# scenario_command NAME: the scenario's command line into CMD (the endpoint
# is appended when it runs).
scenario_command() {
  case $1 in
    boto3) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_boto3.py") ;;
    node) CMD=(node "$HERE/node/scenario.mjs") ;;
    # The CLI scenario calls `aws` and `python3`: the venv's, first on PATH.
    awscli) CMD=(env "PATH=$HERE/.venv/bin:$PATH" bash "$HERE/cli/scenario_awscli.sh") ;;
    efo) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_efo.py") ;;
    node-efo) CMD=(node "$HERE/node/efo.mjs") ;;
    # The SDK bundled for the browser, in headless Debian chromium on a page of another
    # origin: the CORS proof. Bounds itself to 55 s.
    browser) CMD=(node "$HERE/browser/run.mjs") ;;
    # These start their own server (TLS and users from a config file): given the binary.
    secure) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_secure.py"); SELF_SERVED=1 ;;
    # Encryption at rest over TLS: the AWS CLI (the venv's, first on PATH) and boto3's KMS client.
    kms) CMD=(env "PATH=$HERE/.venv/bin:$PATH" "$HERE/.venv/bin/python" "$HERE/python/scenario_kms.py"); SELF_SERVED=1 ;;
    # A KPL-style producer at three times a shard's rate under --limits aws (its own server).
    throttle) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_throttle.py"); SELF_SERVED=1 ;;
    # GET /metrics parsed by prometheus_client's text-format parser, around boto3 traffic.
    metrics) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_metrics.py") ;;
    replicated) CMD=(bash "$HERE/replicated.sh"); SELF_SERVED=1 ;;
    # The AWS SDK for Java v2: parts 1 and 2 against this server (cleartext, HTTP/1.1 and
    # h2c), part 3 against a TLS server of its own, started with the binary.
    java) CMD=(env "TRIBUTARY_BIN=$BIN" bash "$HERE/java/scenario.sh") ;;
    # The KCL 3.x (its own server and moto's DynamoDB): a split under polling retrieval, an
    # UpdateShardCount under enhanced fan-out, each then a restart from the checkpoints.
    kcl-polling) CMD=(env KCL_MODE=polling "KCL_FLAGS=--reshard split" bash "$HERE/kcl/run.sh"); SELF_SERVED=1 ;;
    kcl-efo) CMD=(env KCL_MODE=efo "KCL_FLAGS=--reshard update" bash "$HERE/kcl/run.sh"); SELF_SERVED=1 ;;
    # The KPL writing aggregated records over TLS, the KCL (enhanced fan-out, h2 over TLS)
    # de-aggregating them; its own TLS server, moto from the kcl venv.
    kpl) CMD=(env KPL_MODE=efo bash "$HERE/kpl/run.sh"); SELF_SERVED=1 ;;
    *) return 1 ;;
  esac
}

PASSED=0
FAILED=0
RESULTS=()
for name in "${SCENARIOS[@]}"; do
  printf '\n---- client scenario: %s ----\n' "$name"
  if ! scenario_command "$name"; then
    echo "unknown scenario '$name' (known: boto3 node awscli efo node-efo secure kms throttle metrics browser java kcl-polling kcl-efo kpl replicated)"
    FAILED=$((FAILED + 1))
    RESULTS+=("FAIL  $name (unknown scenario)")
    continue
  fi
  started=$SECONDS
  if [[ ${SELF_SERVED:-0} == 1 ]]; then
    SELF_SERVED=0
    rc=0
    timeout --kill-after=10 "$TIMEOUT" "${CMD[@]}" "$BIN" </dev/null || rc=$?
    if [[ $rc -eq 0 ]]; then
      PASSED=$((PASSED + 1))
      RESULTS+=("ok    $name ($((SECONDS - started))s)")
    else
      FAILED=$((FAILED + 1))
      RESULTS+=("FAIL  $name (exit $rc)")
    fi
    continue
  fi
  if ! start_server "$name"; then
    echo "FAIL: $START_ERROR; server log ($LOGS/$name.server.log):"
    tail -n 50 "$LOGS/$name.server.log" | sed 's/^/  | /'
    stop_server
    FAILED=$((FAILED + 1))
    RESULTS+=("FAIL  $name (server did not start)")
    continue
  fi
  echo "server pid $SERVER_PID at $ENDPOINT, data in $DATA_DIR"
  rc=0
  timeout --kill-after=10 "$TIMEOUT" "${CMD[@]}" "$ENDPOINT" </dev/null || rc=$?
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL: the server died during the scenario"
    if [[ $rc -eq 0 ]]; then rc=1; fi
  fi
  stop_server
  elapsed=$((SECONDS - started))
  if [[ $rc -eq 0 ]]; then
    PASSED=$((PASSED + 1))
    RESULTS+=("ok    $name (${elapsed}s)")
  else
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then echo "FAIL: timed out after ${TIMEOUT}s"; fi
    echo "last lines of the server log ($LOGS/$name.server.log):"
    tail -n 40 "$LOGS/$name.server.log" | sed 's/^/  | /'
    FAILED=$((FAILED + 1))
    RESULTS+=("FAIL  $name (exit $rc, ${elapsed}s)")
  fi
done

printf '\n---- client scenarios ----\n'
printf '%s\n' "${RESULTS[@]}"
echo "server logs: $LOGS"
echo "clients: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
