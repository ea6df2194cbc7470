#!/usr/bin/env bash
# Installs what the client scenarios and the JetStream tests (crates/natskit)
# need, and nothing outside this folder:
#   tests/clients/.venv              boto3, AWS CLI v1, nats-server and prometheus-client from
#                                    requirements.txt
#                                    (nats-server: .venv/bin/nats-server, for crates/natskit)
#   tests/clients/node/node_modules  AWS SDK for JavaScript v3, `npm ci` from package-lock.json
#   tests/clients/browser/node_modules  the same SDK plus esbuild and playwright-core, `npm ci`
# and one thing outside it: Debian's `chromium` package (/usr/bin/chromium), for
# the browser scenario, installed with apt-get when it is missing.
# Idempotent and quick when nothing changed: each part keeps a stamp with the
# hash of the file it was installed from and is redone only when that changes
# (or the install is broken).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=$HERE/.venv
NODE_DIR=$HERE/node
PYTHON=${PYTHON:-python3}

stamp_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---- Python: venv + pinned requirements --------------------------------
want=$(stamp_of "$HERE/requirements.txt")-$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')
if [[ -f $VENV/.tributary-stamp && $(cat "$VENV/.tributary-stamp") == "$want" ]] &&
  "$VENV/bin/python" -c 'import boto3, awscli, prometheus_client' 2>/dev/null && [[ -x $VENV/bin/nats-server ]]; then
  echo "python deps: up to date ($VENV)"
else
  echo "python deps: installing into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$HERE/requirements.txt"
  echo "$want" >"$VENV/.tributary-stamp"
fi
"$VENV/bin/python" -c 'import boto3, botocore; print(f"  boto3 {boto3.__version__}, botocore {botocore.__version__}")'
echo "  $("$VENV/bin/aws" --version 2>&1)"
echo "  $("$VENV/bin/nats-server" --version 2>&1)"

# ---- Node: npm ci from the committed lock file --------------------------
want=$(stamp_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")-$(node --version)
if [[ -f $NODE_DIR/node_modules/.tributary-stamp && $(cat "$NODE_DIR/node_modules/.tributary-stamp") == "$want" ]]; then
  echo "node deps: up to date ($NODE_DIR/node_modules)"
else
  echo "node deps: npm ci in $NODE_DIR"
  # npm ci installs exactly the lock file and fails if package.json disagrees.
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$NODE_DIR/node_modules/.tributary-stamp"
fi
echo "  node $(node --version), @aws-sdk/client-kinesis $(node -p "require('$NODE_DIR/node_modules/@aws-sdk/client-kinesis/package.json').version")"

# ---- Browser scenario: npm ci, then Debian's chromium --------------------
BROWSER_DIR=$HERE/browser
want=$(stamp_of "$BROWSER_DIR/package.json" "$BROWSER_DIR/package-lock.json")-$(node --version)
if [[ -f $BROWSER_DIR/node_modules/.tributary-stamp && $(cat "$BROWSER_DIR/node_modules/.tributary-stamp") == "$want" ]]; then
  echo "browser deps: up to date ($BROWSER_DIR/node_modules)"
else
  echo "browser deps: npm ci in $BROWSER_DIR"
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$BROWSER_DIR/node_modules/.tributary-stamp"
fi
echo "  playwright-core $(node -p "require('$BROWSER_DIR/node_modules/playwright-core/package.json').version"), esbuild $(node -p "require('$BROWSER_DIR/node_modules/esbuild/package.json').version")"

# Playwright's own browser downloads are not used (and may be unreachable): the
# scenario drives the distribution's build. CI runs as root with no stdin;
# elsewhere sudo must work without a password prompt, or install it by hand.
CHROMIUM=/usr/bin/chromium
if [[ ! -x $CHROMIUM ]]; then
  echo "chromium: $CHROMIUM is missing, installing Debian's chromium package"
  if [[ $(id -u) -eq 0 ]]; then
    AS_ROOT=()
  elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT=(sudo -n)
  else
    echo "install.sh: need root (or sudo) to apt-get install chromium; install it by hand: apt-get install chromium" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: no apt-get here; install Chromium so that $CHROMIUM exists" >&2
    exit 1
  fi
  # Bounded: a stuck mirror or dpkg lock fails the run instead of hanging CI.
  if ! timeout 300 "${AS_ROOT[@]}" apt-get update -q </dev/null ||
    ! timeout 900 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends chromium </dev/null; then
    echo "install.sh: FAILED to install Debian's chromium package (see apt-get output above)" >&2
    exit 1
  fi
  if [[ ! -x $CHROMIUM ]]; then
    echo "install.sh: apt-get installed chromium but $CHROMIUM is still missing" >&2
    exit 1
  fi
fi
echo "  $("$CHROMIUM" --version 2>/dev/null || echo "chromium at $CHROMIUM (--version failed)")"
