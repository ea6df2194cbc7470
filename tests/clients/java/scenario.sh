#!/usr/bin/env bash
# The AWS SDK for Java v2 scenario (src/main/java/tributary/, main in Scenario.java):
# compiles it (offline, from the Maven repository install.sh filled), starts a second
# Tributary server with TLS for part 3, and runs the scenario in a JVM of its own.
#
# Usage: TRIBUTARY_BIN=BINARY tests/clients/java/scenario.sh ENDPOINT
#   ENDPOINT: a running cleartext server that verifies AKIDEXAMPLE/secret signatures
#             (tests/clients/run.sh starts it so); parts 1 and 2 use it.
#   TRIBUTARY_BIN: the binary to start the TLS server with (`tributary cert` makes its CA).
# Env: TRIBUTARY_M2 Maven repository (default $HOME/.cache/tributary/m2)
# Last line: "java: N checks passed" (or the failure). Exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENDPOINT=${1:-${TRIBUTARY_ENDPOINT:-}}
BIN=${TRIBUTARY_BIN:?set TRIBUTARY_BIN to the tributary binary (for the TLS server)}
M2=${TRIBUTARY_M2:-$HOME/.cache/tributary/m2}
if [[ -z $ENDPOINT ]]; then
  echo "usage: TRIBUTARY_BIN=BINARY $0 ENDPOINT" >&2
  exit 2
fi

WORK=$(mktemp -d -t tributary-java.XXXXXX)
TLS_PID=""
cleanup() {
  if [[ -n $TLS_PID ]] && kill -0 "$TLS_PID" 2>/dev/null; then
    kill -TERM "$TLS_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$TLS_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$TLS_PID" 2>/dev/null || true
    wait "$TLS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Offline: install.sh fetched everything. (Debian's Maven prints colour resets even with -q:
# its output is shown only when it fails.)
if ! (cd "$HERE" && mvn -q -B -o -Dmaven.repo.local="$M2" compile) >"$WORK/mvn.log" 2>&1; then
  echo "FAIL: mvn -o compile in $HERE (run tests/clients/install.sh first):"
  cat "$WORK/mvn.log"
  exit 1
fi

# Part 3's server: TLS with a certificate from `tributary cert`, the same user, so every
# signature is verified there too.
"$BIN" cert --out "$WORK/tls" --san localhost --san 127.0.0.1 >/dev/null
TRIBUTARY_ACCESS_KEY_ID=AKIDEXAMPLE TRIBUTARY_SECRET_ACCESS_KEY=secret \
  "$BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/data" \
  --tls-cert "$WORK/tls/server.pem" --tls-key "$WORK/tls/server-key.pem" \
  >"$WORK/tls.stdout" 2>"$WORK/tls.log" </dev/null &
TLS_PID=$!
TLS_ENDPOINT=""
for _ in $(seq 300); do
  line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$WORK/tls.stdout" || true)
  if [[ -n $line ]]; then
    TLS_ENDPOINT="https://localhost:${line##*:}"
    break
  fi
  kill -0 "$TLS_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $TLS_ENDPOINT ]]; then
  echo "FAIL: the TLS server did not start; its log:"
  sed 's/^/  | /' "$WORK/tls.log" | tail -n 40
  exit 1
fi
echo "TLS server pid $TLS_PID at $TLS_ENDPOINT"

rc=0
java -cp "$HERE/target/classes:$(cat "$HERE/target/classpath.txt")" tributary.Scenario \
  "$ENDPOINT" "$TLS_ENDPOINT" "$WORK/tls/ca.pem" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "last lines of the TLS server's log:"
  tail -n 40 "$WORK/tls.log" | sed 's/^/  | /'
fi
if ! kill -0 "$TLS_PID" 2>/dev/null; then
  echo "FAIL: the TLS server died during the scenario"
  rc=1
fi
exit $rc
