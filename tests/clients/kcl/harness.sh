# Sourced by kcl/run.sh and kpl/run.sh: what both do around their scenario.py. Expects VENV
# (the kcl venv: moto, boto3), LOGS and M2 to be set; sets PIDS, DATA, DDB_URL, KINESIS, TPID.

PIDS=()
DATA=$(mktemp -d -t tributary-java-data.XXXXXX)
harness_cleanup() {
  # JVMs scenario.py started (it writes their pids), in case the timeout ended it first; only
  # if the pid is still one of ours (not a reused pid).
  for f in "$LOGS"/*.pid; do
    [[ -f $f ]] || continue
    p=$(cat "$f")
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -E 'tributary\.(kcl\.KclApp|kpl\.KplApp)'; then
      # The KPL's native daemon is a child of its JVM: end it too.
      for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap harness_cleanup EXIT
trap 'exit 130' INT TERM

# compile_offline DIR...: each Maven project, from the repository tests/clients/install.sh
# filled. Debian's Maven prints colour resets even with -q: its output is shown only on failure.
compile_offline() {
  local t0=$SECONDS d
  for d in "$@"; do
    if ! (cd "$d" && mvn -o -q -B -Dmaven.repo.local="$M2" compile) >"$LOGS/mvn.log" 2>&1; then
      cat "$LOGS/mvn.log"
      echo "FAIL: mvn compile in $d (offline, from $M2)"
      return 1
    fi
  done
  echo "build: $((SECONDS - t0))s"
}

# start_moto: moto's DynamoDB server (the KCL's lease table) on a free loopback port.
start_moto() {
  local port
  port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$LOGS/moto.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
  done
  DDB_URL="http://127.0.0.1:$port"
}

# start_tributary SCHEME BINARY SERVE_FLAGS...: the server on a free loopback port, data in
# DATA; its environment is the caller's. KINESIS is SCHEME://127.0.0.1:PORT.
start_tributary() {
  local scheme=$1 bin=$2 line=""
  shift 2
  RUST_LOG="${RUST_LOG:-info,tributary::request=debug}" "$bin" serve --bind 127.0.0.1:0 \
    --data-dir "$DATA/tributary" "$@" >"$LOGS/tributary.stdout" 2>"$LOGS/tributary.log" </dev/null &
  TPID=$!
  PIDS+=($TPID)
  for _ in $(seq 300); do
    line=$(grep -m1 '^TRIBUTARY_LISTENING ' "$LOGS/tributary.stdout" || true)
    [[ -n $line ]] && break
    kill -0 "$TPID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $line ]]; then
    echo "FAIL: Tributary did not start; its log:"
    tail -n 40 "$LOGS/tributary.log"
    return 1
  fi
  KINESIS="$scheme://${line#TRIBUTARY_LISTENING }"
}
