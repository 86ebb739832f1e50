#!/usr/bin/env bash
# Build benchmark: `spaceone-publish` vs `buildah bud` (vfs storage, chroot isolation) +
# `buildah push`, same Dockerfile with RUN steps, same local docker-registry; cold (empty
# caches: the base is downloaded) and warm (base already local, no layer cache). Then the
# snapshot benchmark (100k files). See bench/README.md.
#
# Usage: bench/build.sh [files-per-RUN (default 20000)]
# Needs: docker-registry, busybox (static), buildah (apt), /usr/bin/time, cargo; run as root.
set -euo pipefail

FILES=${1:-20000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
REG_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --manifest-path "$HERE/Cargo.toml" --bin spaceone-publish >/dev/null 2>&1
BIN="$HERE/target/release/spaceone-publish"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/registry"
cat > "$WORK/registry.yml" <<EOF
version: 0.1
storage: { filesystem: { rootdirectory: $WORK/registry }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$PORT }
log: { level: error }
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
REG="127.0.0.1:$PORT"

# The base image, built by us from a busybox rootfs (FROM scratch + COPY: no RUN).
mkdir -p "$WORK/base/rootfs/bin" "$WORK/base/rootfs/etc" "$WORK/base/rootfs/tmp"
cp "$(command -v busybox)" "$WORK/base/rootfs/bin/busybox"
for a in sh echo mkdir seq xargs touch cat rm ls cp sha256sum head find; do ln -s busybox "$WORK/base/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$WORK/base/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$WORK/base/rootfs/etc/group"
printf 'FROM scratch\nCOPY rootfs/ /\n' > "$WORK/base/Dockerfile"
echo 1.0.0 > "$WORK/base/VERSION"
(cd "$WORK/base" && HOME="$WORK/home-base" PUBLISH_IMAGE="$REG/bench/base" PUBLISH_VERSION=1.0.0 \
  SOURCE_DATE_EPOCH=1700000000 "$BIN" >/dev/null 2>&1)

# The benchmark Dockerfile: two RUNs writing $FILES small files each, a deletion, a COPY.
mkdir -p "$WORK/ctx/src"
for i in $(seq 200); do echo "print($i)" > "$WORK/ctx/src/m$i.py"; done
cat > "$WORK/ctx/Dockerfile" <<EOF
FROM $REG/bench/base:1.0.0
RUN mkdir -p /opt/a && cd /opt/a && seq $FILES | xargs touch && echo done
COPY src/ /app/src/
RUN mkdir -p /opt/b && cd /opt/b && seq $FILES | xargs touch && rm -rf /opt/a/1* && echo done
EOF
echo 1.0.0 > "$WORK/ctx/VERSION"

timed() { # label, command…  → prints "label seconds rss-MiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$*" >"$WORK/out.log" 2>&1 || { cat "$WORK/out.log"; exit 1; }
  read -r secs kb < "$WORK/time"
  printf '%-28s %7.2f s  %6d MiB\n' "$label" "$secs" $((kb / 1024))
  echo "$secs" > "$WORK/last"
}

ours() {
  (cd "$WORK/ctx" && HOME="$WORK/home-ours" PUBLISH_IMAGE="$REG/bench/ours" PUBLISH_VERSION=1.0.0 \
    SOURCE_DATE_EPOCH=1700000000 "$BIN")
}
buildah_bud() {
  buildah --root "$WORK/buildah" --runroot "$WORK/buildah-run" --storage-driver vfs \
    bud --isolation chroot --tls-verify=false --layers=false -t "$REG/bench/buildah:1.0.0" "$WORK/ctx" &&
  buildah --root "$WORK/buildah" --runroot "$WORK/buildah-run" --storage-driver vfs \
    push --tls-verify=false "$REG/bench/buildah:1.0.0"
}

export WORK REG BIN
export -f ours buildah_bud
echo "build + push, $FILES files per RUN, busybox base, loopback registry"
timed "ours cold" ours; OURS_COLD=$(cat "$WORK/last")
timed "ours warm (base local)" ours; OURS_WARM=$(cat "$WORK/last")
if command -v buildah >/dev/null; then
  timed "buildah cold" buildah_bud; B_COLD=$(cat "$WORK/last")
  buildah --root "$WORK/buildah" --runroot "$WORK/buildah-run" --storage-driver vfs rmi "$REG/bench/buildah:1.0.0" >/dev/null 2>&1 || true
  timed "buildah warm (base local)" buildah_bud; B_WARM=$(cat "$WORK/last")
  python3 -c "print(f'ratio ours/buildah: cold {$OURS_COLD/$B_COLD:.2f}x, warm {$OURS_WARM/$B_WARM:.2f}x (goal <= 0.4x)')"
else
  echo "buildah not installed (apt-get install buildah): no comparison"
fi

echo
echo "snapshot benchmark (100k files, release build):"
cargo test --release --manifest-path "$HERE/Cargo.toml" --test it -- --ignored bench_snapshot_100k_files --nocapture 2>/dev/null | grep '^snapshot:'
