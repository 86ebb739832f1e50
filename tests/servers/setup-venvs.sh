#!/usr/bin/env bash
# Create the two Python venvs the SpaceONE loopback test servers run in.
#
#   tests/servers/setup-venvs.sh [DEST]        (default DEST = <repo>/.venvs)
#
#   DEST/v1  real spaceone-repository 1.12.5 + spaceone-core 1.12.39 + spaceone-api 1.12.54
#   DEST/v2  spaceone-core 2.0.144 + spaceone-api 2.0.435 (for the 2.x stand-in)
#   DEST/v2real  the same framework pinned for the REAL 2.x repository service, whose source
#            (SPACEONE_VENDOR_DIR, default <repo>/../shared/vendor) is extracted into
#            DEST/v2real/src; skipped, with a message, when that tarball is absent
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

# The real 2.x service: third-party source kept outside the repository (see
# /work/shared/vendor/README.md); pins from the reference notes (mongoengine 0.26 for
# mongomock://, protobuf 3 for core 2.x, grpcio-* 1.48.2, the GCP client it imports).
VENDOR="${SPACEONE_VENDOR_DIR:-$REPO/../shared/vendor}"
V2REAL_TARBALL="$VENDOR/cloudforet-repository-2.0.dev59.tar.gz"
V2REAL_SHA256=b3f04f7eac811f3f90003b2fd44ab069068fe04eef0dcd06bceebf4ec76c05f2
REQ_V2REAL=(
  "spaceone-core==2.0.144" "spaceone-api==2.0.435" "protobuf==3.20.3"
  "mongoengine==0.26.0" "pymongo==4.6.3" "mongomock==4.3.0"
  "grpcio" "grpcio-reflection==1.48.2" "grpcio-health-checking==1.48.2" "grpcio-status==1.48.2"
  "google-api-core==1.34.1" "google-cloud-artifact-registry==1.20.0" "grpc-google-iam-v1==0.14.3"
  "google-auth" "googleapis-common-protos" "pandas" "schematics" "packaging>=21.3"
  "setuptools<81" "PyYAML" "requests"
)
CHECK_V2REAL='
import mongomock, mongoengine, grpc, yaml, packaging.version, pandas, schematics
import spaceone.core.command, spaceone.core.pygrpc.server
from spaceone.api.repository.v1 import plugin_pb2
from google.cloud import artifactregistry_v1
assert hasattr(plugin_pb2, "RegisterPluginRequest"), "spaceone-api is not 2.x"
assert mongoengine.VERSION[:2] == (0, 26), mongoengine.VERSION
'

# The service source, extracted once per tarball digest into DEST/v2real/src.
extract_v2real() {
  local src="$DEST/v2real/src" marker="$DEST/v2real/.source-sha256"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$V2REAL_SHA256" ] && [ -d "$src/spaceone/repository" ]; then
    return 0
  fi
  local actual
  actual="$(sha256sum "$V2REAL_TARBALL" | cut -d' ' -f1)"
  [ "$actual" = "$V2REAL_SHA256" ] || { echo "setup-venvs: ERROR: $V2REAL_TARBALL has sha256 $actual, expected $V2REAL_SHA256" >&2; return 1; }
  rm -rf "$src" "$DEST/v2real/.extract"
  mkdir -p "$DEST/v2real/.extract"
  tar -xzf "$V2REAL_TARBALL" -C "$DEST/v2real/.extract" &&
  mv "$DEST/v2real/.extract/repository-2.0.dev59/src" "$src" &&
  rm -rf "$DEST/v2real/.extract" &&
  echo "$V2REAL_SHA256" >"$marker"
}

# Serialize concurrent runs on the same DEST.
exec 9>"$DEST/.setup.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

start=$(date +%s)
build v1 "$HERE/constraints-v1.txt" "$CHECK_V1" "${REQ_V1[@]}" &
pid1=$!
build v2 "$HERE/constraints-v2.txt" "$CHECK_V2" "${REQ_V2[@]}" &
pid2=$!
pid3=
if [ -f "$V2REAL_TARBALL" ]; then
  { build v2real "$HERE/constraints-v2real.txt" "$CHECK_V2REAL" "${REQ_V2REAL[@]}" && extract_v2real; } &
  pid3=$!
else
  echo "setup-venvs: v2real: skipped: $V2REAL_TARBALL not found (the real 2.x service's source is" \
    "not part of this repository; set SPACEONE_VENDOR_DIR to the directory holding it). Its tests skip."
fi
rc=0
wait "$pid1" || rc=1
wait "$pid2" || rc=1
if [ -n "$pid3" ]; then wait "$pid3" || rc=1; fi
[ "$rc" -eq 0 ] || die "venv setup failed (see messages above)"
echo "setup-venvs: done in $(( $(date +%s) - start ))s: $DEST/v1 $DEST/v2${pid3:+ $DEST/v2real}"
