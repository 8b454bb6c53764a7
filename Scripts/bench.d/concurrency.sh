#!/usr/bin/env bash
# N parallel create+delete cycles, each its own pair of runxl processes, for N = 8 32 64 128
# (RUNXL_CONCURRENCY overrides) on the fake backend: wall time, failed cycles, and what is left
# afterwards (records and files under --root, fake domains, supervisors). Every state.json seen
# while the cycles run must parse. The real-libxl figure comes from the lab: Scripts/lab-tests
# runs Tests/lab/failure-in-dom0.sh, whose "FIGURE concurrency" lines are the same measurement
# with N as high as dom0's memory allows (RUNXL_CONCURRENCY=lab here boots the lab for it alone).
# Env from Scripts/bench: RUNXL_BINARY, RUNXL_TEST_BINARY (runxl with the fake backend), BENCH_WORK.
set -euo pipefail
cd "$(dirname "$0")/../.."
runxl=${RUNXL_BINARY:?run through Scripts/bench concurrency}
work=${BENCH_WORK:?run through Scripts/bench concurrency}
levels=${RUNXL_CONCURRENCY:-8 32 64 128}

if [ "$levels" = lab ]; then
  init=$(Scripts/build-init)
  mkdir -p "$work/lab"
  Tests/lab/make-fixtures.sh "$runxl" "$work/lab" >/dev/null
  Scripts/xenlab --timeout "${RUNXL_LAB_TIMEOUT:-1500}" --memory 4096 --dom0-memory 1024 --share "$work/lab" \
    --env RUNXL_INIT="$init" --env RUNXL_BINARY="$runxl" --env RUNXL_LAB_WORK="$work/lab" \
    --env RUNXL_FAILURE_SECTIONS=concurrency --env RUNXL_LAB_CONCURRENCY="${RUNXL_LAB_CONCURRENCY:-4 8 16 24}" \
    ${RUNXL_LAB_VERBOSE:+--verbose} -- Tests/lab/failure-in-dom0.sh | grep -E '^(FIGURE|PASS|FAIL)'
  exit "${PIPESTATUS[0]}"
fi

bundle=$work/concurrency-bundle
mkdir -p "$bundle/rootfs"
cat >"$bundle/config.json" <<'JSON'
{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}}
JSON
# The fake backend is a test seam: only runxl-testing has it.
runxl=${RUNXL_TEST_BINARY:?run through Scripts/bench concurrency}
export RUNXL_HYPERVISOR=fake
echo "== concurrency: N parallel create+delete cycles on the fake backend ($(basename "$(dirname "$(dirname "$runxl")")")/$(basename "$(dirname "$runxl")") runxl)"
printf '  %-6s %-10s %-9s %-12s %-14s %-12s %s\n' N "wall (s)" failures "root files" "fake domains" supervisors "unparsable reads"
for n in $levels; do
  root=$work/concurrency-root-$n
  export RUNXL_FAKE_DIR=$work/concurrency-fake-$n
  rm -rf "$root" "$RUNXL_FAKE_DIR"
  failures=$work/concurrency-failures-$n
  : >"$failures"
  # A reader parsing every record while the cycles run (corruption would show here first).
  bad=$work/concurrency-bad-$n
  : >"$bad"
  ( while [ ! -e "$work/stop-$n" ]; do
      for record in "$root"/*/state.json; do
        [ -e "$record" ] || continue
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$record" 2>/dev/null || { [ -e "$record" ] && echo "$record" >>"$bad"; }
      done
    done ) &
  reader=$!
  start=$EPOCHREALTIME
  for i in $(seq 1 "$n"); do
    ( "$runxl" --root "$root" create --bundle "$bundle" "c$i" >/dev/null 2>>"$failures.err" </dev/null \
        && "$runxl" --root "$root" delete --force "c$i" 2>>"$failures.err" || echo "c$i" >>"$failures" ) &
  done
  wait_pids=$(jobs -p | grep -v "^$reader\$" || true)
  for pid in $wait_pids; do wait "$pid" || true; done
  end=$EPOCHREALTIME
  touch "$work/stop-$n"
  wait "$reader" 2>/dev/null || true
  files=$(find "$root" -mindepth 1 2>/dev/null | wc -l)
  domains=$(python3 -c 'import json,sys
try: w = json.load(open(sys.argv[1]))
except FileNotFoundError: print(0); sys.exit()
d = w.get("domains", [])
print(len(d) // 2 if isinstance(d, list) else len(d))' "$RUNXL_FAKE_DIR/world.json")
  supervisors=$(pgrep -f -- "--root $root " | wc -l || true)
  printf '  %-6s %-10s %-9s %-12s %-14s %-12s %s\n' "$n" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')" \
    "$(wc -l <"$failures")" "$files" "$domains" "$supervisors" "$(sort -u "$bad" | wc -l)"
  if [ -s "$failures.err" ]; then sed 's/^/    error: /' "$failures.err" | sort | uniq -c | head -5; fi
done
