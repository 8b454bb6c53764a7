#!/usr/bin/env bash
# Image to initramfs: `runxl image convert` of the debootstrap minbase image (from the store)
# against the pipeline other runtimes use, `umoci unpack` + `find | cpio -o -H newc | gzip -1`,
# in one hyperfine run, fresh outputs and an empty initramfs cache for every run. Target: <= 0.25x.
# runxl uses its default compression (lz4, chosen by measurement: docs/guest-build.md); the
# per-compression lines after it show gzip-against-gzip too.
# Env from Scripts/bench: RUNXL_BINARY, BENCH_WORK, BENCH_RUNS (capped by RUNXL_CONVERT_RUNS, default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
runxl=${RUNXL_BINARY:?run through Scripts/bench convert}
work=${BENCH_WORK:?run through Scripts/bench convert}
runs=${BENCH_RUNS:-5}
cap=${RUNXL_CONVERT_RUNS:-5}
[ "$runs" -le "$cap" ] || runs=$cap

# minbase has no command; a guest needs one. A copy of the layout gets `Cmd: ["/bin/true"]`.
image=$work/minbase-oci
cp -a "$(Scripts/bench.d/minbase-image.sh)" "$image"
umoci config --image "$image:latest" --config.cmd /bin/true
store=$work/convert-store
cache=$work/convert-cache
out=$work/convert-out
kernel=$(ls /boot/vmlinuz-* | sort -V | tail -n 1)
RUNXL_INIT=$(Scripts/build-init)
export RUNXL_INIT
mkdir -p "$store" /etc/runxl
# Import is the store's job (measured by `Scripts/bench pull`); convert starts from the store, as
# umoci starts from the layout.
"$runxl" --store "$store" image import "$image" --name minbase:latest >/dev/null

# A host config of our own for the cache directory, restored afterwards.
config=/etc/runxl/config.json
saved=""
[ -f "$config" ] && { saved=$work/config.json.saved; cp "$config" "$saved"; }
restore() { if [ -n "$saved" ]; then cp "$saved" "$config"; else rm -f "$config"; fi; }
trap restore EXIT
# write_config [COMPRESSION]: without one, runxl's default compression.
write_config() {
  if [ $# = 1 ]; then
    printf '{"kernel": "%s", "cacheDir": "%s", "compression": "%s"}\n' "$kernel" "$cache" "$1" >"$config"
  else
    printf '{"kernel": "%s", "cacheDir": "%s"}\n' "$kernel" "$cache" >"$config"
  fi
}

write_config
echo "== minbase image to an initramfs: runxl image convert (its default compression) vs umoci unpack + find | cpio | gzip -1 (target <= 0.25x)"
# One --prepare per command: a shared one would also run before the pipeline's runs and remove
# runxl's output before its size is read below.
hyperfine --style none --runs "$runs" --export-json "$work/convert.json" \
  --prepare "rm -rf $out $cache/initramfs; sync" \
  --prepare "rm -rf $work/umoci-bundle $work/peer.cpio.gz; sync" \
  -n "runxl image convert" "$runxl --store $store image convert minbase:latest --output $out" \
  -n "umoci unpack + cpio + gzip -1" \
  "umoci unpack --image $image:latest $work/umoci-bundle >/dev/null && cd $work/umoci-bundle/rootfs && find . | cpio -o -H newc --quiet | gzip -1 >$work/peer.cpio.gz" \
  >/dev/null
python3 - "$work/convert.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
medians = [statistics.median(r["times"]) for r in results]
for r, m in zip(results, medians):
    print(f"  {r['command']}: median {m:.2f} s over {len(r['times'])} runs")
print(f"  ratio runxl / pipeline: {medians[0] / medians[1]:.2f}x (target <= 0.25x)")
PY
echo "  sizes: runxl $(basename $out/initramfs.cpio*) $(stat -c %s $out/initramfs.cpio*) bytes, pipeline $(stat -c %s $work/peer.cpio.gz) bytes"

echo "== runxl image convert per initramfs compression (median of 3, empty cache each run)"
for compression in none lz4 zstd gzip; do
  write_config "$compression"
  hyperfine --style none --runs 3 --export-json "$work/convert-$compression.json" \
    --prepare "rm -rf $out $cache/initramfs; sync" \
    -n "$compression" "$runxl --store $store image convert minbase:latest --output $out" >/dev/null
  median=$(python3 -c 'import json,statistics,sys; print("%.2f" % statistics.median(json.load(open(sys.argv[1]))["results"][0]["times"]))' "$work/convert-$compression.json")
  echo "  $compression: build $median s, initramfs $(stat -c %s $out/initramfs.cpio*) bytes"
done
rm -rf "$store" "$cache" "$out" "$work/umoci-bundle" "$work/peer.cpio.gz"
