#!/usr/bin/env bash
# Builds the image store's test fixtures offline (umoci, skopeo) from the busybox rootfs:
#   OUT/layout          OCI image layout, tag latest (one gzip layer, Cmd ["sh"], linux/amd64)
#   OUT/busybox-oci.tar oci-archive of it
#   OUT/busybox-docker.tar  docker-archive of it (`docker save` format), tagged busybox:latest
#   OUT/pause-docker.tar    the same image with Cmd ["sleep", "2147483647"], tagged localhost/pause:1
#   OUT/multi           OCI layout whose index.json names an image index with linux/amd64 and
#                       linux/arm64 manifests (tag latest)
#   OUT/arm64-only      OCI layout of an image whose config says linux/arm64
#   OUT/truncated       OCI layout whose one layer is a truncated gzip (digests consistent)
# Usage: Tests/images/make-archives.sh OUT
set -euo pipefail
out=${1:?usage: make-archives.sh OUT}
repo=$(cd "$(dirname "$0")/../.." && pwd)
for tool in umoci skopeo python3; do
  command -v "$tool" >/dev/null || { echo "make-archives: $tool is missing (Scripts/bootstrap installs it)" >&2; exit 3; }
done
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$repo/Images/busybox/make-rootfs" "$work/rootfs" >/dev/null

# One image in a layout: umoci new, unpack, copy the rootfs in, repack, configure.
build_image() { # LAYOUT TAG ARCH
  local layout=$1 tag=$2 arch=$3
  [ -d "$layout" ] || umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$work/bundle-$tag"
  cp -a "$work/rootfs/." "$work/bundle-$tag/rootfs/"
  umoci repack --image "$layout:$tag" "$work/bundle-$tag"
  rm -rf "$work/bundle-$tag"
  umoci config --image "$layout:$tag" --architecture "$arch" --os linux --config.cmd sh \
    --config.env PATH=/bin:/usr/bin --config.env RUNXL_FIXTURE=1 --config.workingdir /home/user --config.user user
  umoci gc --layout "$layout"
}

build_image "$out/layout" latest amd64

# The busybox image with three more layers (a file each, one also replacing a busybox file): for
# pulls that download several layers at once.
skopeo copy --quiet oci:"$out/layout":latest oci:"$out/layered":latest
for n in 1 2 3; do
  umoci unpack --image "$out/layered:latest" "$work/bundle-layered"
  head -c $((200000 * n)) /dev/urandom >"$work/bundle-layered/rootfs/layer-$n.bin"
  echo "layer $n" >"$work/bundle-layered/rootfs/etc/last-layer"
  umoci repack --image "$out/layered:latest" "$work/bundle-layered"
  rm -rf "$work/bundle-layered"
done
umoci gc --layout "$out/layered"
skopeo copy --quiet oci:"$out/layout":latest oci-archive:"$out/busybox-oci.tar":latest
skopeo copy --quiet oci:"$out/layout":latest docker-archive:"$out/busybox-docker.tar":busybox:latest
# containerd CRI's pause image (its sandbox_image, run as each pod's first container; there is
# no registry to pull registry.k8s.io/pause from): the busybox image, whose Cmd sleeps.
skopeo copy --quiet oci:"$out/layout":latest oci:"$work/pause":latest
umoci config --image "$work/pause:latest" --config.cmd sleep --config.cmd 2147483647
skopeo copy --quiet oci:"$work/pause":latest docker-archive:"$out/pause-docker.tar":localhost/pause:1

build_image "$work/arm" latest arm64
skopeo copy --quiet oci:"$work/arm":latest oci:"$out/arm64-only":latest

# An image index over both platforms, written by hand (umoci makes no indexes).
skopeo copy --quiet oci:"$out/layout":latest oci:"$out/multi":amd64
skopeo copy --quiet oci:"$work/arm":latest oci:"$out/multi":arm64
python3 - "$out/multi" <<'PY'
import hashlib, json, os, sys
layout = sys.argv[1]
index = json.load(open(os.path.join(layout, "index.json")))
platforms = {"amd64": {"architecture": "amd64", "os": "linux"}, "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
manifests = []
for entry in index["manifests"]:
    tag = entry["annotations"]["org.opencontainers.image.ref.name"]
    manifests.append({"mediaType": entry["mediaType"], "digest": entry["digest"], "size": entry["size"], "platform": platforms[tag]})
manifests.sort(key=lambda m: m["platform"]["architecture"])
blob = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}, sort_keys=True).encode()
digest = hashlib.sha256(blob).hexdigest()
open(os.path.join(layout, "blobs", "sha256", digest), "wb").write(blob)
top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
    "mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + digest, "size": len(blob),
    "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
json.dump(top, open(os.path.join(layout, "index.json"), "w"), sort_keys=True)
PY

# A layout whose layer is a gzip stream cut in half; manifest and config digests match it, so
# only the unpack can notice.
cp -a "$out/layout" "$out/truncated"
python3 - "$out/truncated" <<'PY'
import hashlib, json, os, sys
layout = sys.argv[1]
blobs = os.path.join(layout, "blobs", "sha256")
def read(d): return open(os.path.join(blobs, d.split(":")[1]), "rb").read()
def write(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d
index = json.load(open(os.path.join(layout, "index.json")))
entry = index["manifests"][0]
manifest = json.loads(read(entry["digest"]))
layer = manifest["layers"][0]
cut = read(layer["digest"])
cut = cut[: len(cut) // 2]
layer["digest"], layer["size"] = write(cut), len(cut)
body = json.dumps(manifest, sort_keys=True).encode()
entry["digest"], entry["size"] = write(body), len(body)
json.dump(index, open(os.path.join(layout, "index.json"), "w"), sort_keys=True)
PY
echo "$out"
