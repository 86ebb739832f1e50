#!/usr/bin/env bash
# Push benchmark: our registry client vs `skopeo copy`, same OCI layout, same local
# docker-registry, cold (empty registry) and warm (everything already there), plus the
# peak RSS of pushing one 1 GiB layer. See bench/README.md.
#
# Usage: bench/push.sh [total-MiB (default 240)]
# Needs: docker-registry, skopeo, python3, /usr/bin/time; builds the test binary in
# release mode (cargo) and runs its ignored `registry::bench_push_layout`.
set -euo pipefail

TOTAL_MIB=${1:-240}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
REG_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# An OCI layout of gzip layers (stored deflate: fast to make, size as asked) of random
# data: several layers adding up to $2 MiB, or one layer when $3 = single.
make_layout() {
  python3 - "$1" "$2" "${3:-several}" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out, total, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sizes = [total] if mode == "single" else [total * p // 100 for p in (40, 25, 20, 10, 5)]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return d
def put_stream(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = h.hexdigest()
    os.replace(path, f"{out}/blobs/sha256/{d}")
    return d
layers, diff_ids = [], []
for i, mib in enumerate(sizes):
    raw = f"{out}/layer{i}.tar"
    payload = f"{out}/payload{i}"
    with open(payload, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    with tarfile.open(raw, "w", format=tarfile.PAX_FORMAT) as t:
        info = t.gettarinfo(payload, arcname=f"data/layer{i}.bin")
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        with open(payload, "rb") as f:
            t.addfile(info, f)
    os.remove(payload)
    h = hashlib.sha256()
    gz_path = raw + ".gz"
    with open(raw, "rb") as src, open(gz_path, "wb") as dst:
        with gzip.GzipFile(fileobj=dst, mode="wb", compresslevel=0, mtime=0) as gz:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                gz.write(chunk)
    os.remove(raw)
    diff_ids.append("sha256:" + h.hexdigest())
    size = os.path.getsize(gz_path)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": "sha256:" + put_stream(gz_path), "size": size})
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "config": {}}, separators=(",", ":")).encode()
cd = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + cd, "size": len(config)},
                       "layers": layers}, separators=(",", ":")).encode()
md = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
          "digest": "sha256:" + md, "size": len(manifest),
          "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print(f"{len(sizes)} layers, {sum(l['size'] for l in layers) / (1 << 20):.0f} MiB, manifest sha256:{md}")
EOF
}

# A fresh plain-HTTP docker-registry on a free port; sets REG_PORT.
start_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; fi
  local dir="$WORK/registry-$1"
  mkdir -p "$dir"
  REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/config.yml" <<EOF
{"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": true}},
 "storage": {"filesystem": {"rootdirectory": "$dir/storage"}},
 "http": {"addr": "127.0.0.1:$REG_PORT", "secret": "bench"}}
EOF
  env -i PATH="$PATH" docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$REG_PORT/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "registry did not start: $(cat "$dir/log")" >&2; exit 1
}

# Runs "$@" under /usr/bin/time -v; prints "<wall seconds> <peak RSS KiB>".
measure() {
  local log="$WORK/time.log"
  /usr/bin/time -v "$@" >"$WORK/out.log" 2>"$log" || { cat "$WORK/out.log" "$log" >&2; exit 1; }
  python3 - "$log" <<'EOF'
import sys
t = rss = None
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("Elapsed (wall clock) time"):
        v = line.rsplit(" ", 1)[1].split(":")
        t = sum(float(x) * 60 ** i for i, x in enumerate(reversed(v)))
    if line.startswith("Maximum resident set size"):
        rss = int(line.rsplit(" ", 1)[1])
print(f"{t:.2f} {rss}")
EOF
}

echo "building the test binary (release)…" >&2
IT_BIN=$(cd "$HERE" && cargo test --release --test it --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "it":
        print(m["executable"])')
[ -x "$IT_BIN" ] || { echo "cannot build the test binary: cargo test --release --test it --no-run" >&2; exit 1; }

ours() { # layout target
  measure env BENCH_LAYOUT="$1" BENCH_TARGET="$2" "$IT_BIN" --ignored --exact registry::bench_push_layout --nocapture
}
skopeo_push() { # layout target
  measure env HOME="$WORK/skopeo-home" skopeo copy --quiet --dest-tls-verify=false "oci:$1:bench" "docker://$2:1"
}

mkdir -p "$WORK/skopeo-home"
echo "making a ${TOTAL_MIB} MiB layout: $(make_layout "$WORK/layout" "$TOTAL_MIB")" >&2

start_registry ours;   read -r o_cold o_cold_rss < <(ours "$WORK/layout" "127.0.0.1:$REG_PORT/bench/ours")
                       read -r o_warm o_warm_rss < <(ours "$WORK/layout" "127.0.0.1:$REG_PORT/bench/ours")
start_registry skopeo; read -r s_cold s_cold_rss < <(skopeo_push "$WORK/layout" "127.0.0.1:$REG_PORT/bench/skopeo")
                       read -r s_warm s_warm_rss < <(skopeo_push "$WORK/layout" "127.0.0.1:$REG_PORT/bench/skopeo")

rm -rf "$WORK/layout"
echo "making a 1 GiB one-layer layout: $(make_layout "$WORK/big" 1024 single)" >&2
start_registry big;    read -r b_time b_rss < <(ours "$WORK/big" "127.0.0.1:$REG_PORT/bench/big")
start_registry bigsk;  read -r bs_time bs_rss < <(skopeo_push "$WORK/big" "127.0.0.1:$REG_PORT/bench/big")

python3 - "$TOTAL_MIB" "$o_cold" "$o_cold_rss" "$o_warm" "$o_warm_rss" "$s_cold" "$s_cold_rss" \
  "$s_warm" "$s_warm_rss" "$b_time" "$b_rss" "$bs_time" "$bs_rss" <<'EOF'
import sys
a = sys.argv[1:]
total = a[0]
oc, ocr, ow, owr, sc, scr, sw, swr, bt, br, bst, bsr = map(float, a[1:])
mib = lambda k: f"{k / 1024:.0f} MiB"
print(f"push of a {total} MiB, 5-layer OCI layout to a local docker-registry (plain HTTP)")
print(f"{'':8}{'ours':>10}{'skopeo':>10}{'ratio':>8}   {'RSS ours':>10}{'RSS skopeo':>12}")
print(f"{'cold':8}{oc:>9.2f}s{sc:>9.2f}s{oc / sc:>8.2f}   {mib(ocr):>10}{mib(scr):>12}")
print(f"{'warm':8}{ow:>9.2f}s{sw:>9.2f}s{ow / sw:>8.2f}   {mib(owr):>10}{mib(swr):>12}")
print(f"1 GiB single layer: ours {bt:.2f}s, peak RSS {mib(br)}; skopeo {bst:.2f}s, peak RSS {mib(bsr)}")
EOF
