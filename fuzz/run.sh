#!/usr/bin/env bash
# A bounded fuzz session: `fuzz/run.sh TARGET SECONDS` (defaults: sigv4_parse, 60).
# Installs cargo-fuzz from crates.io when missing; needs the nightly toolchain (libFuzzer and
# sanitizer flags are nightly-only). Exits non-zero when the target finds a crash, leaving the
# input under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

target="${1:-sigv4_parse}"
seconds="${2:-60}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mkdir -p "corpus/$target"
# The committed seeds (valid-looking inputs) start the search past the first parser errors; the
# corpus directory, not committed, keeps what a session learns for the next one.
seeds=()
[[ -d "seeds/$target" ]] && seeds=("seeds/$target")
# -max_total_time bounds the session; -rss_limit_mb keeps one input from eating the machine.
# FUZZ_TARGET_DIR keeps the (slow, instrumented) build outside a fresh clone, as CI does.
target_dir=()
[[ -n ${FUZZ_TARGET_DIR:-} ]] && target_dir=(--target-dir "$FUZZ_TARGET_DIR")
exec cargo +nightly fuzz run "${target_dir[@]}" "$target" "corpus/$target" "${seeds[@]}" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
