#!/usr/bin/env bash
# Installs what the client scenarios and the JetStream tests (crates/natskit)
# need, and nothing outside this folder:
#   tests/clients/.venv              boto3, AWS CLI v1, nats-server and prometheus-client from
#                                    requirements.txt
#                                    (nats-server: .venv/bin/nats-server, for crates/natskit)
#   tests/clients/node/node_modules  AWS SDK for JavaScript v3, `npm ci` from package-lock.json
#   tests/clients/browser/node_modules  the same SDK plus esbuild and playwright-core, `npm ci`
#   tests/clients/kcl/.venv          moto's server (the KCL's DynamoDB) and boto3, from
#                                    kcl/requirements.txt (the kcl and kpl scenarios)
#   $HOME/.cache/tributary/m2        the AWS SDK for Java v2, the KCL, the KPL and the Maven
#                                    plugins of java/, kcl/ and kpl/pom.xml (TRIBUTARY_M2
#                                    overrides the folder), fetched by compiling each project
#                                    once per pom.xml
# and outside it: Debian's `chromium` package (/usr/bin/chromium), for the browser
# scenario, and `openjdk-17-jdk-headless` and `maven` for the java, kcl and kpl scenarios, each
# installed with apt-get when it is missing.
# Idempotent and quick when nothing changed: each part keeps a stamp with the
# hash of the file it was installed from and is redone only when that changes
# (or the install is broken).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=$HERE/.venv
NODE_DIR=$HERE/node
PYTHON=${PYTHON:-python3}

# The files' contents only, not their paths: a clone elsewhere (CI's fresh clones) still
# finds the Maven repository's stamps up to date.
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# python_venv NAME VENV REQUIREMENTS IMPORTS EXECUTABLE: a venv with the pinned requirements,
# redone when they (or the Python version) change, or when IMPORTS or EXECUTABLE are broken.
PY_VERSION=$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')
python_venv() {
  local name=$1 venv=$2 reqs=$3 imports=$4 exe=$5 want
  want=$(stamp_of "$reqs")-$PY_VERSION
  if [[ -f $venv/.tributary-stamp && $(cat "$venv/.tributary-stamp") == "$want" ]] &&
    "$venv/bin/python" -c "import $imports" 2>/dev/null && [[ -x $venv/bin/$exe ]]; then
    echo "$name deps: up to date ($venv)"
    return 0
  fi
  echo "$name deps: installing into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$reqs"
  echo "$want" >"$venv/.tributary-stamp"
}

# ---- Python: venv + pinned requirements --------------------------------
python_venv python "$VENV" "$HERE/requirements.txt" "boto3, awscli, prometheus_client" nats-server
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

# apt_install WHAT PACKAGE...: Debian packages, as root or through `sudo -n`, bounded by
# timeout (a stuck mirror or dpkg lock fails the run instead of hanging CI). CI runs as
# root with no stdin; elsewhere sudo must work without a password prompt, or install them
# by hand.
apt_install() {
  local what=$1
  shift
  local as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo -n)
    else
      echo "install.sh: need root (or sudo) to apt-get install $*; install it by hand: apt-get install $*" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: no apt-get here; install $what by hand" >&2
    return 1
  fi
  if ! timeout 300 "${as_root[@]}" apt-get update -q </dev/null ||
    ! timeout 900 "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "$@" </dev/null; then
    echo "install.sh: FAILED to install $* (see apt-get output above)" >&2
    return 1
  fi
}

# Playwright's own browser downloads are not used (and may be unreachable): the
# scenario drives the distribution's build.
CHROMIUM=/usr/bin/chromium
if [[ ! -x $CHROMIUM ]]; then
  echo "chromium: $CHROMIUM is missing, installing Debian's chromium package"
  apt_install "Chromium (so that $CHROMIUM exists)" chromium || exit 1
  if [[ ! -x $CHROMIUM ]]; then
    echo "install.sh: apt-get installed chromium but $CHROMIUM is still missing" >&2
    exit 1
  fi
fi
echo "  $("$CHROMIUM" --version 2>/dev/null || echo "chromium at $CHROMIUM (--version failed)")"

# ---- Java scenario: a JDK and Maven, then the pom's dependencies ----------
if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "java: java, javac or mvn is missing, installing Debian's openjdk-17-jdk-headless and maven"
  apt_install "a JDK (17 or later) and Maven" openjdk-17-jdk-headless maven || exit 1
fi
# The local Maven repository is kept between runs, next to CI's cargo cache. Compiling a
# project once fetches everything it needs (its libraries, the Maven plugins and their own
# dependencies); the scenarios then compile with `mvn -o`.
M2=${TRIBUTARY_M2:-$HOME/.cache/tributary/m2}
JAVA_VERSION=$(java -version 2>&1 | head -n1 | tr -dc 'A-Za-z0-9._-')
# maven_fetch NAME DIR WHAT: compiles DIR's pom.xml once per pom.xml (and JDK).
maven_fetch() {
  local name=$1 dir=$2 what=$3 want mvn_log
  want=$(stamp_of "$dir/pom.xml")-$JAVA_VERSION
  if [[ -f $M2/.tributary-$name-stamp && $(cat "$M2/.tributary-$name-stamp") == "$want" ]]; then
    echo "$name deps: up to date ($M2)"
    return 0
  fi
  echo "$name deps: fetching $what into $M2 (mvn compile in $dir)"
  mkdir -p "$M2"
  # Debian's Maven prints colour resets even with -q: its output is shown only on failure.
  mvn_log=$(mktemp)
  if ! (cd "$dir" && timeout 900 mvn -q -B -Dmaven.repo.local="$M2" compile </dev/null) >"$mvn_log" 2>&1; then
    cat "$mvn_log"
    rm -f "$mvn_log"
    echo "install.sh: FAILED to fetch the $name scenario's Maven dependencies (mvn compile in $dir)" >&2
    return 1
  fi
  rm -f "$mvn_log"
  echo "$want" >"$M2/.tributary-$name-stamp"
}
JAVA_DIR=$HERE/java
maven_fetch java "$JAVA_DIR" "the AWS SDK for Java v2" || exit 1
maven_fetch kcl "$HERE/kcl" "the Kinesis Client Library" || exit 1
maven_fetch kpl "$HERE/kpl" "the Kinesis Producer Library (its jar carries an 89 MB native daemon)" || exit 1
echo "  $(java -version 2>&1 | head -n1), $(mvn -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g'), AWS SDK for Java $(sed -n 's:.*<awssdk.version>\(.*\)</awssdk.version>.*:\1:p' "$JAVA_DIR/pom.xml")"
echo "  KCL $(sed -n 's:.*<kcl.version>\(.*\)</kcl.version>.*:\1:p' "$HERE/kcl/pom.xml"), KPL $(sed -n 's:.*<kpl.version>\(.*\)</kpl.version>.*:\1:p' "$HERE/kpl/pom.xml")"

# ---- KCL scenario: moto's DynamoDB server in a venv of its own -------------
KCL_VENV=$HERE/kcl/.venv
python_venv kcl "$KCL_VENV" "$HERE/kcl/requirements.txt" "boto3, moto, flask" moto_server
echo "  moto $("$KCL_VENV/bin/python" -c 'import moto; print(moto.__version__)')"
