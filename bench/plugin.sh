#!/usr/bin/env bash
# The realistic workload: a SpaceONE-shaped plugin on the debootstrapped Debian python base
# the tests make (one 78 MiB gzip layer: 187 MiB, 8,908 files, 11,104 entries),
# `COPY pkg/*`, `RUN pip install -r` from a local wheel, `COPY src`, `RUN pip install .`.
# `spaceone-publish` against `buildah bud` (vfs, chroot) + `buildah push` on the same
# loopback docker-registry, cold and warm, median of RUNS runs each; then the base unpack
# alone against `tar -xzf` of the same blob.
#
# Usage: bench/plugin.sh [runs (default 3)]
# Needs: the base fixture (run `cargo test --test it python_plugin` once), docker-registry,
# skopeo, buildah, /usr/bin/time, python3, mkfs.ext4 and loop devices, ~4 GB free under
# $TMPDIR; run as root. Figures: bench/README.md.
set -euo pipefail

RUNS=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
LAYER=$(ls "$HERE"/target/test-fixtures/debian-python/*/layer.tar.gz 2>/dev/null | head -1)
[ -n "$LAYER" ] || { echo "no base fixture: run 'cargo test --test it python_plugin' first" >&2; exit 2; }
WORK=$(mktemp -d)
REG_PID=""
MOUNTS=()
cleanup() {
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || true; done
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --manifest-path "$HERE/Cargo.toml" --bin spaceone-publish >/dev/null 2>&1
BIN="$HERE/target/release/spaceone-publish"
# The unpack alone: the ignored test bench_unpack_layer of the release test binary.
ITBIN=$(cargo test --release --manifest-path "$HERE/Cargo.toml" --test it --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "it": print(m["executable"])' | tail -1)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/registry"
cat > "$WORK/registry.yml" <<EOF
version: 0.1
storage: { filesystem: { rootdirectory: $WORK/registry } }
http: { addr: 127.0.0.1:$PORT }
log: { level: error }
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
REG="127.0.0.1:$PORT"

# The base as an OCI layout (the fixture's layer as is), pushed by skopeo.
python3 - "$LAYER" "$WORK/base" <<'PY'
import gzip, hashlib, json, os, shutil, sys
layer, out = sys.argv[1], sys.argv[2]
blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data); return d, len(data)
raw = open(layer, "rb").read()
ld, ls = put(raw)
diff = hashlib.sha256(gzip.decompress(raw)).hexdigest()
arch = {"x86_64": "amd64", "aarch64": "arm64"}[os.uname().machine]
config = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]},
          "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
                     "Cmd": ["python3"]}}
cd, cs = put(json.dumps(config).encode())
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + ld, "size": ls}]}
md, ms = put(json.dumps(manifest).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": "sha256:" + md, "size": ms,
           "annotations": {"org.opencontainers.image.ref.name": "bookworm"}}]}, open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo copy --quiet --dest-tls-verify=false "oci:$WORK/base:bookworm" "docker://$REG/cloudforet/python-core:2"

# The plugin: two pip installs from wheels in the context, no index.
CTX="$WORK/ctx"
mkdir -p "$CTX/pkg" "$CTX/src/spaceone/plugin_x"
cat > "$CTX/Dockerfile" <<EOF
FROM $REG/cloudforet/python-core:2
ENV PKG_DIR=/tmp/pkg SRC_DIR=/tmp/src
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
COPY pkg/*.txt pkg/*.whl \${PKG_DIR}/
RUN pip install --no-index --find-links \${PKG_DIR} -r \${PKG_DIR}/pip_requirements.txt
COPY src \${SRC_DIR}
WORKDIR \${SRC_DIR}
RUN pip install --no-index --no-build-isolation . && rm -rf /tmp/*
ENTRYPOINT ["spaceone"]
CMD ["run", "plugin-server", "plugin_x"]
EOF
echo "spaceone-fake-core==1.0.0" > "$CTX/pkg/pip_requirements.txt"
python3 - "$CTX/pkg/spaceone_fake_core-1.0.0-py3-none-any.whl" <<'PY'
import base64, hashlib, sys, zipfile
files = {"spaceone/core/__init__.py": "VERSION = '1.0.0'\n",
         "spaceone_fake_core-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: spaceone-fake-core\nVersion: 1.0.0\n",
         "spaceone_fake_core-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
dig = lambda d: "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
rec = "".join(f"{p},{dig(c.encode())},{len(c.encode())}\n" for p, c in files.items()) + "spaceone_fake_core-1.0.0.dist-info/RECORD,,\n"
files["spaceone_fake_core-1.0.0.dist-info/RECORD"] = rec
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p, c in files.items(): z.writestr(zipfile.ZipInfo(p, (2024, 1, 1, 0, 0, 0)), c)
PY
cat > "$CTX/src/setup.py" <<'EOF'
from setuptools import find_namespace_packages, setup
setup(name="plugin-x", version="1.0.0", packages=find_namespace_packages(include=["spaceone.*"]),
      install_requires=["spaceone-fake-core"],
      entry_points={"console_scripts": ["spaceone = spaceone.plugin_x:main"]})
EOF
printf 'def main():\n    print("plugin_x")\n' > "$CTX/src/spaceone/plugin_x/__init__.py"
echo 1.0.0 > "$CTX/src/VERSION"

# Before each timed step: the previous step's writes on disk and the page cache emptied
# (every tool then reads its input from disk), and a moment for the disk to go idle, so no
# step pays for another's writeback. Without this, on this VM kind, a step's time moved
# by 2-3x with whatever ran before it.
quiet() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
  sleep 2
}
timed() { # label, command… → "seconds rss-KiB" appended to $WORK/<label>
  quiet
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$*" >"$WORK/out.log" 2>&1 || { cat "$WORK/out.log"; exit 1; }
  cat "$WORK/time" >> "$WORK/$label"
}
ours() { # $1: home (cache dir), $2: cache repository
  (cd "$CTX" && HOME="$1" PUBLISH_IMAGE="$REG/cloudforet/plugin-x" PUBLISH_CACHE_REPO="$2" \
    PUBLISH_OUTPUT_FORMAT=json SOURCE_DATE_EPOCH=1700000000 "$BIN")
}
buildah_bud() { # $1: storage root
  buildah --root "$1" --runroot "$1-run" --storage-driver vfs \
    bud --isolation chroot --tls-verify=false --layers=false -t "$REG/bench/buildah:1.0.0" "$CTX" &&
  buildah --root "$1" --runroot "$1-run" --storage-driver vfs push --tls-verify=false "$REG/bench/buildah:1.0.0"
}
export WORK REG BIN CTX ITBIN LAYER
export -f ours buildah_bud

# Each tool's steps of a run get a file system of their own, made just before (ext4 on a
# loop device, as mkfs.ext4 makes it, journal included), as a CI runner starts on a fresh
# disk. On a file system that has just had a big tree deleted, allocating inodes near the
# freed ones scans past each of them (ext4's `recently_deleted`: 60 s, 300 s more while
# their inode-table block is dirty): a step right after another's `rm -rf` (or a tool's own
# clean-up of its build root) paid for it, about a fifth of an unpack's samples in a profile.
fresh_fs() { # $1: mount point
  truncate -s 16G "$1.img"
  mkfs.ext4 -q -F "$1.img"
  mkdir -p "$1"
  mount -o loop "$1.img" "$1"
  MOUNTS+=("$1")
}
drop_fs() {
  for m in "${MOUNTS[@]}"; do umount "$m" && rm -f "$m.img"; done
  MOUNTS=()
}

for i in $(seq "$RUNS"); do
  # Cold: empty cache directory and a cache repository never written.
  fresh_fs "$WORK/ours-$i"
  timed ours-cold "ours $WORK/ours-$i/home $REG/cache/cold-$i"
  grep -o '"unpack_seconds":[0-9.e-]*' "$WORK/out.log" | cut -d: -f2 >> "$WORK/unpack"
  # Warm: the same cache directory and repository (every RUN a layer-cache hit).
  timed ours-warm "ours $WORK/ours-$i/home $REG/cache/cold-$i"
  if command -v buildah >/dev/null; then
    fresh_fs "$WORK/buildah-$i"
    timed buildah-cold "buildah_bud $WORK/buildah-$i/storage"
    buildah --root "$WORK/buildah-$i/storage" --runroot "$WORK/buildah-$i/storage-run" \
      --storage-driver vfs rmi "$REG/bench/buildah:1.0.0" >/dev/null 2>&1 || true
    timed buildah-warm "buildah_bud $WORK/buildah-$i/storage"
  fi
  # The unpack alone leaves its tree, as tar does (the test keeps its temporary directory).
  fresh_fs "$WORK/unpack-$i"
  timed unpack-alone "BENCH_LAYER=$LAYER BENCH_DIR=$WORK/unpack-$i $ITBIN --ignored --exact build::bench_unpack_layer --nocapture"
  fresh_fs "$WORK/tar-$i"
  timed tar "tar -xzf $LAYER -C $WORK/tar-$i"
  drop_fs
done

python3 - "$WORK" "$RUNS" "$(nproc)" <<'PY'
import os, statistics, sys
work, runs, cores = sys.argv[1], sys.argv[2], sys.argv[3]
def col(name, i):
    p = os.path.join(work, name)
    return [float(l.split()[i]) for l in open(p)] if os.path.exists(p) else []
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"plugin on the debootstrapped python base, {runs} runs, {cores} cores, median (min-max), peak RSS")
for name in ["ours-cold", "ours-warm", "buildah-cold", "buildah-warm", "unpack-alone", "tar"]:
    s, r = col(name, 0), col(name, 1)
    if s:
        print(f"  {name:13} {med(s):6.2f} s ({min(s):.2f}-{max(s):.2f})  {med(r)/1024:6.0f} MiB")
for kind in ["cold", "warm"]:
    o, b = col(f"ours-{kind}", 0), col(f"buildah-{kind}", 0)
    if o and b:
        print(f"  ratio ours/buildah {kind}: {med(o)/med(b):.2f}x")
u = [float(l) for l in open(os.path.join(work, "unpack")) if l.strip()] if os.path.exists(os.path.join(work, "unpack")) else []
t = col("tar", 0)
if u and t:
    print(f"  base unpack (download included) {med(u):.2f} s vs tar -xzf {med(t):.2f} s: {med(u)/med(t):.2f}x")
a = col("unpack-alone", 0)
if a and t:
    print(f"  base unpack alone (local blob) {med(a):.2f} s vs tar -xzf {med(t):.2f} s: {med(a)/med(t):.2f}x")
PY
