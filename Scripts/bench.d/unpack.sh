#!/usr/bin/env bash
# Layer unpack: runxl's LayerUnpacker (`runxl unpack-layers`, the unpack alone) against
# `umoci unpack` and `tar -xzf` of the same debootstrap minbase layer (Scripts/bench.d/minbase-image.sh),
# in one hyperfine run, a fresh target for every run (removed and synced in --prepare, so that
# writeback of the previous run is not billed to the next). Targets: <= 0.8x umoci, <= 1.1x tar.
# Env from Scripts/bench: RUNXL_BINARY, BENCH_WORK, BENCH_RUNS (capped by RUNXL_UNPACK_RUNS, default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
runxl=${RUNXL_BINARY:?run through Scripts/bench unpack}
work=${BENCH_WORK:?run through Scripts/bench unpack}
runs=${BENCH_RUNS:-10}
cap=${RUNXL_UNPACK_RUNS:-10}
[ "$runs" -le "$cap" ] || runs=$cap

image=$(Scripts/bench.d/minbase-image.sh)
layer=$(python3 - "$image" <<'PY'
import json, sys
layout = sys.argv[1]
def blob(digest):
    return f"{layout}/blobs/sha256/{digest.split(':', 1)[1]}"
index = json.load(open(f"{layout}/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
layers = manifest["layers"]
assert len(layers) == 1, "the minbase image has one layer"
print(blob(layers[0]["digest"]))
PY
)
echo "== unpack of the minbase layer ($(du -m "$layer" | cut -f1) MB gzip): runxl vs umoci unpack vs tar -xzf (targets <= 0.8x umoci, <= 1.1x tar)"
target=$work/unpack-target
hyperfine --style none --runs "$runs" --export-json "$work/unpack.json" \
  --prepare "rm -rf $target; mkdir -p $target; sync" \
  -n "runxl unpack-layers" "$runxl unpack-layers $target/rootfs $layer" \
  -n "umoci unpack" "umoci unpack --image $image:latest $target/bundle" \
  -n "tar -xzf" "mkdir $target/rootfs && tar -xzf $layer -C $target/rootfs" >/dev/null
rm -rf "$target"
python3 - "$work/unpack.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
medians = {r["command"]: statistics.median(r["times"]) for r in results}
for r in results:
    print(f"  {r['command']}: median {medians[r['command']]*1000:.0f} ms over {len(r['times'])} runs")
ours = medians["runxl unpack-layers"]
print(f"  ratio runxl / umoci: {ours / medians['umoci unpack']:.2f}x (target <= 0.8x)")
print(f"  ratio runxl / tar -xzf: {ours / medians['tar -xzf']:.2f}x (target <= 1.1x)")
PY
