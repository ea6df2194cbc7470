#!/usr/bin/env bash
# THE one command that runs every test of Tributary, the same on a laptop and
# in CI (.ci/run calls it):
#   1. client test dependencies (Python venv, npm ci, Debian chromium; quick when installed)
#   2. cargo fmt --check
#   3. cargo clippy, warnings denied
#   4. model drift: crates/model must match what scripts/gen_model.py generates
#   5. cargo nextest: unit and integration tests of the workspace (the JetStream stores' own
#      tests start 3-node nats-server clusters on loopback ports), then the engine suite
#      again on the JetStream stores, against one cluster held by natskit-cluster
#   6. bounded fuzz sessions (nightly + cargo-fuzz, installed if missing)
#   7. build the tributary binary
#   8. real-client scenarios (boto3, AWS CLI, AWS SDK for JavaScript over h2c and in
#      headless Chromium, AWS SDK for Java v2 over HTTP/1.1, h2c and h2 with TLS, the KCL
#      3.x with polling and enhanced fan-out, the KPL over TLS) against that binary
# It stops at the first failing stage. Honours CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
STARTED=$SECONDS

section() {
  printf '\n==== %s  [%ss]\n' "$1" "$((SECONDS - STARTED))"
}

section "1/8 client test dependencies"
bash tests/clients/install.sh

section "2/8 cargo fmt --check"
cargo fmt --all -- --check

section "3/8 cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

section "4/8 model drift (scripts/gen_model.py --check)"
python3 scripts/gen_model.py --check

section "5/8 cargo nextest"
# CI shows the head and the tail of a failing run: without a backtrace after it, a failing
# test's panic message is in that tail. TRIBUTARY_TEST_BACKTRACE=1 brings backtraces back.
export RUST_BACKTRACE=${TRIBUTARY_TEST_BACKTRACE:-0}
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest is missing: installing it from crates.io"
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace

# The engine suite once more, on the JetStream stores: one 3-node cluster for the whole pass
# (nextest runs each test in a process of its own), each test under a prefix of its own.
# natskit-cluster stops the cluster when its stdin closes.
cargo build --quiet -p tributary-natskit --bin natskit-cluster
coproc NATSKIT { "$TARGET_DIR/debug/natskit-cluster" 3; }
read -r urls <&"${NATSKIT[0]}"
echo "engine suite on JetStream: ${urls#NATS_URLS=}"
TRIBUTARY_TEST_NATS=${urls#NATS_URLS=} cargo nextest run -p tributary-engine --test engine
eval "exec ${NATSKIT[1]}>&-"
wait "$NATSKIT_PID" || true

section "6/8 fuzz: bounded sessions of the decoders that face the network"
# SigV4 header/query parsing, JSON bodies (the fast path against the reference path), CBOR
# bodies and event-stream frames; 30 s each.
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-$TARGET_DIR/fuzz}
export FUZZ_TARGET_DIR
for t in sigv4_parse json_decode cbor_decode eventstream_decode kms_request; do
  bash fuzz/run.sh "$t" 30 2>&1 | tail -n 3
done

section "7/8 cargo build --bin tributary"
cargo build --bin tributary

section "8/8 client scenarios"
# Last on purpose: its closing "clients: N passed, M failed" line is the last
# line of the whole run, which is what CI reads.
bash tests/clients/run.sh "$TARGET_DIR/debug/tributary"
