#!/usr/bin/env bash
# Builds once, then reuses, a five-layer OCI image layout for the pull benchmark: the Debian
# minbase image (Scripts/bench.d/minbase-image.sh, one layer) and four more layers of 16 MiB of
# random bytes each (incompressible, as binaries in real images nearly are), tag `latest`, at
# ${RUNXL_BENCH_CACHE:-REPO/lab/cache}/layered-oci. Prints the layout's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${RUNXL_BENCH_CACHE:-$repo/lab/cache}
layout=$cache/layered-oci
if [ -f "$layout/index.json" ]; then
  echo "$layout"
  exit 0
fi
base=$("$repo/Scripts/bench.d/minbase-image.sh")
mkdir -p "$cache"
work=$(mktemp -d "$cache/layered-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -a "$base" "$work/oci"
for n in 1 2 3 4; do
  umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
  mkdir -p "$work/bundle/rootfs/opt/layer-$n"
  head -c $((16 << 20)) /dev/urandom >"$work/bundle/rootfs/opt/layer-$n/data.bin"
  umoci repack --image "$work/oci:latest" "$work/bundle"
  rm -rf "$work/bundle"
done
umoci gc --layout "$work/oci"
mv "$work/oci" "$layout"
echo "$layout"
