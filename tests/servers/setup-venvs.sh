#!/usr/bin/env bash
# Create the two Python venvs the SpaceONE loopback test servers run in.
#
#   tests/servers/setup-venvs.sh [DEST]        (default DEST = <repo>/.venvs)
#
#   DEST/v1  real spaceone-repository 1.12.5 + spaceone-core 1.12.39 + spaceone-api 1.12.54
#   DEST/v2  spaceone-core 2.0.144 + spaceone-api 2.0.435 (for the 2.x stand-in)
#
# Every package is pinned by constraints-v1.txt / constraints-v2.txt (full `pip freeze
# --all` of venvs that passed smoke.py). Idempotent: a venv whose marker file matches the
# current constraints + requirements is left alone; anything else (missing, partial,
# stale) is rebuilt. Both venvs install in parallel. Needs Python 3.8-3.11 (1.x imports
# distutils, removed in 3.12); tested with 3.11. Override the interpreter with PYTHON=...
# Exit status is non-zero, with the pip log tail on stderr, on any failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DEST="${1:-$REPO/.venvs}"
PYTHON="${PYTHON:-python3}"

die() { echo "setup-venvs: ERROR: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "interpreter '$PYTHON' not found"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] < (3, 12) else 1)' \
  || die "need Python 3.8-3.11 (found $PYVER): spaceone-repository 1.x imports distutils"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "'$PYTHON' lacks venv/ensurepip (apt-get install python3-venv)"

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

# Top-level requirements; every version (and all transitive ones) comes from the constraints.
REQ_V1=(
  "spaceone-repository==1.12.5" "spaceone-core==1.12.39" "spaceone-api==1.12.54"
  "mongoengine==0.26.0" "pymongo==4.6.3" "mongomock==4.3.0" "protobuf==3.20.3"
  "setuptools<81" "grpcio" "grpcio-reflection" "grpcio-health-checking" "PyYAML" "requests"
)
REQ_V2=(
  "spaceone-core==2.0.144" "spaceone-api==2.0.435" "protobuf==3.20.3" "mongomock"
  "setuptools<81" "grpcio" "grpcio-reflection" "grpcio-health-checking" "PyYAML" "requests" "packaging"
)
CHECK_V1='
import distutils.version, pkg_resources, mongomock, mongoengine, grpc, yaml
import spaceone.repository, spaceone.core.command, spaceone.core.pygrpc
from spaceone.api.repository.v1 import plugin_pb2
from google.protobuf.internal import api_implementation
assert hasattr(plugin_pb2, "CreatePluginRequest"), "spaceone-api is not 1.x"
assert api_implementation.Type() == "python", api_implementation.Type()
'
CHECK_V2='
import pkg_resources, mongomock, mongoengine, grpc, yaml, packaging.version
import spaceone.core.command, spaceone.core.pygrpc.server
from spaceone.api.repository.v1 import plugin_pb2
from google.protobuf.internal import api_implementation
assert hasattr(plugin_pb2, "RegisterPluginRequest"), "spaceone-api is not 2.x"
assert api_implementation.Type() == "python", api_implementation.Type()
'

# One build: create (or keep) DEST/<name>.  Args: name constraints-file check-code reqs...
build() {
  local name="$1" constraints="$2" check="$3"; shift 3
  local venv="$DEST/$name" marker="$DEST/$name/.spaceone-venv-complete" log="$DEST/$name.install.log"
  [ -f "$constraints" ] || die "$constraints missing"
  local stamp
  stamp="$( { echo "python $PYVER"; printf '%s\n' "$@"; cat "$constraints"; } | sha256sum | cut -d' ' -f1)"

  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$stamp" ] && [ -x "$venv/bin/python" ] \
     && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "setup-venvs: $name: up to date ($venv)"
    return 0
  fi

  echo "setup-venvs: $name: building $venv"
  rm -rf "$venv"
  {
    "$PYTHON" -m venv "$venv" &&
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        -c "$constraints" "$@" &&
    "$venv/bin/python" -m pip check &&
    "$venv/bin/python" -c "$check"
  } >"$log" 2>&1 || {
    echo "setup-venvs: ERROR: $name failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  }
  echo "$stamp" >"$marker"
  echo "setup-venvs: $name: ready"
}

# Serialize concurrent runs on the same DEST.
exec 9>"$DEST/.setup.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

start=$(date +%s)
build v1 "$HERE/constraints-v1.txt" "$CHECK_V1" "${REQ_V1[@]}" &
pid1=$!
build v2 "$HERE/constraints-v2.txt" "$CHECK_V2" "${REQ_V2[@]}" &
pid2=$!
rc=0
wait "$pid1" || rc=1
wait "$pid2" || rc=1
[ "$rc" -eq 0 ] || die "venv setup failed (see messages above)"
echo "setup-venvs: done in $(( $(date +%s) - start ))s: $DEST/v1 $DEST/v2"
