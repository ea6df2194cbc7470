#!/usr/bin/env bash
# The client scenarios against the replicated tier (issue 12): a 3-node NATS JetStream
# cluster on loopback ports (natskit-cluster, built next to the tributary binary) and two
# Tributary nodes on it, A and B. Every client scenario gets a deployment prefix of its own
# and both nodes, and talks to one of them, alternating; then scenario_two_nodes.py drives
# both nodes at once (one service: same streams, records, sequence numbers, reshards, EFO).
#
# Usage: replicated.sh BINARY. Last line: "replicated: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$1
NATSKIT=${NATSKIT_CLUSTER:-$(dirname "$BIN")/natskit-cluster}
LOGS=${CLIENT_TEST_LOGS:-$(mktemp -d -t tributary-replicated.XXXXXX)}
TIMEOUT=${SCENARIO_TIMEOUT:-600}
mkdir -p "$LOGS"
if [[ ! -x $NATSKIT ]]; then
  echo "replicated.sh: $NATSKIT missing (cargo build -p tributary-natskit --bin natskit-cluster)" >&2
  exit 2
fi

# The cluster lives until its stdin (this coprocess pipe) closes, when this script exits.
coproc NATS { "$NATSKIT" 3 2>"$LOGS/natskit.log"; }
read -r line <&"${NATS[0]}"
URLS=${line#NATS_URLS=}
echo "NATS cluster: $URLS"

PIDS=()
stop_nodes() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_nodes EXIT

# start_node NAME PREFIX: sets ENDPOINT.
start_node() {
  local name=$1 prefix=$2 line
  TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret \
    "$BIN" serve --bind 127.0.0.1:0 --storage "$URLS" --nats-prefix "$prefix" \
    >"$LOGS/$name.stdout" 2>"$LOGS/$name.log" </dev/null &
  PIDS+=($!)
  for _ in $(seq 300); do
    line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$LOGS/$name.stdout" || true)
    if [[ -n $line ]]; then
      ENDPOINT="http://${line#TRIBUTARY_LISTENING }"
      return 0
    fi
    sleep 0.1
  done
  echo "node $name did not start:"; tail -n 20 "$LOGS/$name.log"
  return 1
}

PASSED=0
FAILED=0
RESULTS=()
run() {
  local name=$1; shift
  local started=$SECONDS rc=0
  printf '\n---- replicated: %s ----\n' "$name"
  timeout --kill-after=10 "$TIMEOUT" "$@" </dev/null || rc=$?
  if [[ $rc -eq 0 ]]; then
    PASSED=$((PASSED + 1)); RESULTS+=("ok    $name ($((SECONDS - started))s)")
  else
    FAILED=$((FAILED + 1)); RESULTS+=("FAIL  $name (exit $rc)")
  fi
}

i=0
for scenario in boto3 node awscli efo node-efo; do
  prefix="rep$i"; i=$((i + 1))
  start_node "$scenario-A" "$prefix"; A=$ENDPOINT
  start_node "$scenario-B" "$prefix"; B=$ENDPOINT
  # Alternate: even scenarios talk to A, odd ones to B.
  if (( i % 2 )); then target=$A; node=A; else target=$B; node=B; fi
  case $scenario in
    boto3) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_boto3.py") ;;
    node) CMD=(node "$HERE/node/scenario.mjs") ;;
    awscli) CMD=(env "PATH=$HERE/.venv/bin:$PATH" bash "$HERE/cli/scenario_awscli.sh") ;;
    efo) CMD=("$HERE/.venv/bin/python" "$HERE/python/scenario_efo.py") ;;
    node-efo) CMD=(node "$HERE/node/efo.mjs") ;;
  esac
  run "$scenario on node $node" "${CMD[@]}" "$target"
  stop_nodes
done

start_node two-A rep-two; A=$ENDPOINT
start_node two-B rep-two; B=$ENDPOINT
run "two nodes at once" "$HERE/.venv/bin/python" "$HERE/python/scenario_two_nodes.py" "$A" "$B"
stop_nodes

printf '\n---- replicated scenarios ----\n'
printf '%s\n' "${RESULTS[@]}"
echo "logs: $LOGS"
echo "replicated: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
