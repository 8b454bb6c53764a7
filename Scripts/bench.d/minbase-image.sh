#!/usr/bin/env bash
# Builds once, then reuses, an OCI image layout of Debian bookworm `debootstrap --variant=minbase`
# with a single gzip layer (umoci), tag `latest`, at ${RUNXL_BENCH_CACHE:-REPO/lab/cache}/minbase-oci.
# Prints the layout's path. The first run needs the Debian mirror and takes a few minutes; the
# benchmarks of unpack and pull share the image so they measure the same bytes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${RUNXL_BENCH_CACHE:-$repo/lab/cache}
layout=$cache/minbase-oci
mirror=${RUNXL_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ -f "$layout/index.json" ]; then
  echo "$layout"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "minbase-image: debootstrap needs root" >&2; exit 1; }
for tool in debootstrap umoci; do
  command -v "$tool" >/dev/null || { echo "minbase-image: $tool is missing (Scripts/bootstrap installs it)" >&2; exit 1; }
done

mkdir -p "$cache"
# Built next to the final name and renamed into place, so an interrupted build is never reused.
work=$(mktemp -d "$cache/minbase-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "minbase-image: debootstrap --variant=minbase bookworm (a few minutes, once)" >&2
umoci init --layout "$work/oci"
umoci new --image "$work/oci:latest"
umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
debootstrap --variant=minbase bookworm "$work/bundle/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}
umoci repack --image "$work/oci:latest" "$work/bundle"
umoci gc --layout "$work/oci"
mv "$work/oci" "$layout"
echo "$layout"
