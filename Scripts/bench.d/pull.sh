#!/usr/bin/env bash
# Pull from a local registry: `runxl image pull` into a fresh store against `skopeo copy` into a
# fresh OCI layout, of the same debootstrap minbase image (Scripts/bench.d/minbase-image.sh) pushed
# to Debian's docker-registry on 127.0.0.1 (Tests/images/registry.sh), in one hyperfine run,
# and of a five-layer image (Scripts/bench.d/layered-image.sh). Both verify every digest and
# write every blob to disk. Targets: <= 1.0x skopeo (one layer), <= 0.5x (five layers).
# Env from Scripts/bench: RUNXL_BINARY, BENCH_WORK, BENCH_RUNS (capped by RUNXL_PULL_RUNS, default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
runxl=${RUNXL_BINARY:?run through Scripts/bench pull}
work=${BENCH_WORK:?run through Scripts/bench pull}
runs=${BENCH_RUNS:-10}
cap=${RUNXL_PULL_RUNS:-10}
[ "$runs" -le "$cap" ] || runs=$cap

state=$work/pull-registry
trap 'Tests/images/registry.sh stop "$state"' EXIT
port=$(Tests/images/registry.sh start "$state")
store=$work/pull-store
layout=$work/pull-oci

# One image per line: NAME LAYOUT TARGET. minbase is one layer; layered is minbase and four
# more (Scripts/bench.d/layered-image.sh), which runxl downloads three at a time and skopeo six.
for case in "minbase $(Scripts/bench.d/minbase-image.sh) 1.0" "layered $(Scripts/bench.d/layered-image.sh) 0.5"; do
  read -r name image target <<<"$case"
  Tests/images/registry.sh push "$state" "oci:$image:latest" "$name:latest"
  size=$(du -sm "$image/blobs" | cut -f1)
  layers=$(python3 -c 'import json, sys; i = json.load(open(sys.argv[1] + "/index.json")); d = i["manifests"][0]["digest"].split(":")[1]; print(len(json.load(open(sys.argv[1] + "/blobs/sha256/" + d))["layers"]))' "$image")
  echo "== pull of $name ($layers layers, $size MB of blobs) from docker-registry on 127.0.0.1: runxl image pull vs skopeo copy to an OCI layout (target <= ${target}x)"
  # A fresh destination every run; sync so that writeback of the previous run is not billed to the next.
  hyperfine --style none --runs "$runs" --warmup 1 --export-json "$work/pull.json" \
    --prepare "rm -rf $store $layout; sync" \
    -n "runxl image pull" "$runxl --store $store image pull --quiet 127.0.0.1:$port/$name:latest" \
    -n "skopeo copy" "skopeo copy --quiet --src-tls-verify=false docker://127.0.0.1:$port/$name:latest oci:$layout:latest" >/dev/null
  rm -rf "$store" "$layout"
  python3 - "$work/pull.json" "$target" <<'PY2'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
medians = [statistics.median(r["times"]) for r in results]
for r, m in zip(results, medians):
    print(f"  {r['command']}: median {m*1000:.0f} ms over {len(r['times'])} runs")
print(f"  ratio runxl / skopeo: {medians[0]/medians[1]:.2f}x (target <= {sys.argv[2]}x)")
PY2
done
