#!/usr/bin/env bash
# Unikernels in one boot of the nested Xen lab (Tests/lab/unikernel-bench-in-dom0.sh): create to
# first output of the test unikernel against a busybox Linux container (runxl launch IMAGE, medians),
# creation time of the 1st and the Nth unikernel guest while the earlier ones keep running, and
# dom0 memory per running guest. Prints the FIGURE lines as a table.
# Env from Scripts/bench: RUNXL_BINARY, BENCH_WORK. Own: RUNXL_BENCH_SAMPLES (default 5),
# RUNXL_UK_GUESTS (default 50), RUNXL_UK_MEMORY (MiB per guest, default 8).
set -euo pipefail
cd "$(dirname "$0")/../.."
runxl=${RUNXL_BINARY:?run through Scripts/bench unikernel}
work=${BENCH_WORK:?run through Scripts/bench unikernel}
init=$(Scripts/build-init)
mkdir -p "$work/lab"
Tests/lab/make-fixtures.sh "$runxl" "$work/lab" >/dev/null
status=0
Scripts/xenlab --timeout "${RUNXL_LAB_TIMEOUT:-1800}" --memory 4096 --dom0-memory 1024 --share "$work/lab" \
  --env RUNXL_INIT="$init" --env RUNXL_BINARY="$runxl" --env RUNXL_LAB_WORK="$work/lab" \
  --env RUNXL_BENCH_SAMPLES="${RUNXL_BENCH_SAMPLES:-5}" --env RUNXL_UK_GUESTS="${RUNXL_UK_GUESTS:-50}" \
  --env RUNXL_UK_MEMORY="${RUNXL_UK_MEMORY:-8}" \
  ${RUNXL_LAB_VERBOSE:+--verbose} -- Tests/lab/unikernel-bench-in-dom0.sh | tee "$work/unikernel.out" || status=$?
echo "== unikernel summary"
awk '/^FIGURE / { sub(/^FIGURE /, ""); i = index($0, ": "); printf "  %-80s %s\n", substr($0, 1, i - 1), substr($0, i + 2) }' "$work/unikernel.out"
[ "$status" = 0 ] || { echo "unikernel benchmark failed (status $status)" >&2; exit "$status"; }
