#!/usr/bin/env bash
# Installs what the client scenarios need, and nothing outside this folder:
#   tests/clients/.venv              boto3 + AWS CLI v1 from requirements.txt
#   tests/clients/node/node_modules  AWS SDK for JavaScript v3, `npm ci` from package-lock.json
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
  "$VENV/bin/python" -c 'import boto3, awscli' 2>/dev/null; then
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
