#!/usr/bin/env bash
# Runs the opencontainers runtime-tools validation suite (built by build.sh
# beside this file) against an OCI runtime with a runc-compatible CLI, and
# prints one summary line per test plus a total.
#
# Why: the suite is the OCI conformance check for a runtime's CLI and the
# containers it makes; we run it against runxl in the nested Xen lab's dom0, and
# against runc as the reference. Offline: needs no network, only the binaries,
# a rootfs tarball (Images/busybox/make-rootfs DIR; tar -C DIR -czf T .) and
# tar on PATH. Must run as root, like the runtime itself. See README.md.
#
# Usage: Tests/runtime-tools/run.sh RUNTIME BINDIR ROOTFS_TARBALL
#   RUNTIME         the runtime binary (path or name on PATH), e.g. runc, runxl
#   BINDIR          build.sh's OUTDIR: one binary per test, plus runtimetest
#   ROOTFS_TARBALL  a .tar.gz of a root filesystem with the files at its top
#                   (./bin/sh, ...), not under a rootfs/ folder
# Environment:
#   RT_TIMEOUT=60   seconds each test may take before it is killed
#   RT_TESTS="a b"  run only these tests (default: every binary in BINDIR)
#   RT_LOGDIR=DIR   keep each test's TAP output (NAME.tap) and stderr (NAME.err) there
#
# Each line is `TEST NAME: N ok, M not ok, skipped K` (N counts passes only,
# not the `ok ... # SKIP` lines, which are K), or `TEST NAME: timed out` or
# `TEST NAME: crashed (status S)`, the latter two followed by the counts of
# what the test printed before it stopped. A test that exits 0 with no
# ok/not ok line counts as 1 not ok if its TAP has an "error" diagnostic (the
# hook tests report that way) and as 1 ok otherwise (the *_fail tests, which
# fail by exiting 1). The last line is the total.
# Exits 0 once every test has run, whatever their results (runc itself does
# not pass all of them); non-zero only for bad arguments.
set -euo pipefail

runtime=${1:?usage: run.sh RUNTIME BINDIR ROOTFS_TARBALL}
bindir=${2:?usage: run.sh RUNTIME BINDIR ROOTFS_TARBALL}
tarball=${3:?usage: run.sh RUNTIME BINDIR ROOTFS_TARBALL}
timeout_s=${RT_TIMEOUT:-60}

bindir=$(cd "$bindir" && pwd)
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
[ -x "$bindir/runtimetest" ] || { echo "run.sh: $bindir/runtimetest missing: run build.sh first" >&2; exit 2; }
[ -f "$tarball" ] || { echo "run.sh: no rootfs tarball $tarball" >&2; exit 2; }
command -v "$runtime" >/dev/null || { echo "run.sh: runtime $runtime not found" >&2; exit 2; }

# The tests look for rootfs-$GOARCH.tar.gz and runtimetest in their working
# directory, and make each bundle with ioutil.TempDir under $TMPDIR: give them
# a scratch directory holding all three, removed at the end.
case $(uname -m) in
  x86_64) goarch=amd64 ;; aarch64) goarch=arm64 ;; i?86) goarch=386 ;; *) goarch=$(uname -m) ;;
esac
scratch=$(mktemp -d "${TMPDIR:-/tmp}/runtime-tools.XXXXXX")
mkdir -p "$scratch/tmp" "$scratch/logs"
ln -s "$tarball" "$scratch/rootfs-$goarch.tar.gz"
cp "$bindir/runtimetest" "$scratch/runtimetest"

# Containers the tests leave behind (a killed test, a failed delete) are
# removed after each test and at the end; only ids that were not there before
# this run, so other users of the runtime on the same host are left alone.
before=$("$runtime" list -q 2>/dev/null || true)
cleanup_containers() {
  local id
  for id in $("$runtime" list -q 2>/dev/null || true); do
    grep -qxF -- "$id" <<<"$before" && continue
    "$runtime" kill "$id" KILL >/dev/null 2>&1 || true
    "$runtime" delete --force "$id" >/dev/null 2>&1 || true
  done
}
# Some tests (linux_ns_itype: a container in the host's mount namespace) leave
# the runtime's /proc, /dev, /sys mounts on their bundle in our namespace:
# detach every mount under the scratch directory, deepest first.
unmount_leftovers() {
  local m
  awk -v d="$scratch/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
finish() {
  cleanup_containers
  unmount_leftovers
  if [ -n "${RT_LOGDIR:-}" ]; then
    mkdir -p "$RT_LOGDIR" && cp "$scratch"/logs/* "$RT_LOGDIR"/ 2>/dev/null || true
  fi
  rm -rf --one-file-system "$scratch"
}
trap finish EXIT

# count PATTERN FILE: lines of FILE matching the extended regex PATTERN.
count() { grep -cE -- "$1" "$2" || true; }

if [ -n "${RT_TESTS:-}" ]; then
  tests=($RT_TESTS)
else
  tests=()
  for f in "$bindir"/*; do
    name=$(basename "$f")
    [ -f "$f" ] && [ -x "$f" ] && [ "$name" != runtimetest ] && tests+=("$name")
  done
fi

tot_ok=0 tot_notok=0 tot_skip=0 n_clean=0 n_timeout=0 n_crash=0
cd "$scratch"
for name in "${tests[@]}"; do
  tap=$scratch/logs/$name.tap err=$scratch/logs/$name.err
  status=0
  # timeout signals the whole process group: the test and the runtime it started.
  TMPDIR=$scratch/tmp RUNTIME=$runtime timeout -k 10 "$timeout_s" "$bindir/$name" >"$tap" 2>"$err" </dev/null || status=$?
  skip=$(count '^ok [0-9]+.*# *[Ss][Kk][Ii][Pp]' "$tap")
  ok=$(($(count '^ok' "$tap") - skip))
  notok=$(count '^not ok' "$tap")
  note=""
  if [ "$status" = 0 ] && [ $((ok + notok + skip)) = 0 ]; then
    # No assertion lines: the hook and lifecycle tests (hooks, prestart,
    # poststart, ...) report a violation only as a YAML `"error":` diagnostic
    # under an empty plan, and the *_fail tests pass by exiting 0 silently and
    # fail through a non-zero exit. Count such a run as one result.
    error=$(grep -m1 -o '"error": ".*' "$tap" | cut -c11- | sed 's/\\n.*//; s/"$//' | cut -c1-160 || true)
    if [ -n "$error" ]; then
      notok=1 note=" (no TAP assertions; error diagnostic: $error)"
    else
      ok=1 note=" (no TAP assertions; exited 0, no error: counted as 1 ok)"
    fi
  fi
  counts="$ok ok, $notok not ok, skipped $skip"
  tot_ok=$((tot_ok + ok)) tot_notok=$((tot_notok + notok)) tot_skip=$((tot_skip + skip))
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    n_timeout=$((n_timeout + 1))
    echo "TEST $name: timed out ($counts before)"
  elif [ "$status" != 0 ]; then
    n_crash=$((n_crash + 1))
    echo "TEST $name: crashed (status $status) ($counts before; $(head -n1 "$err" | cut -c1-160))"
  else
    n_clean=$((n_clean + 1))
    echo "TEST $name: $counts$note"
  fi
  cleanup_containers
  unmount_leftovers
  rm -rf --one-file-system "${scratch:?}"/tmp/* 2>/dev/null || true
done

echo "TOTAL: $tot_ok ok, $tot_notok not ok, skipped $tot_skip;" \
  "${#tests[@]} tests: $n_clean ran to the end, $n_timeout timed out, $n_crash crashed"
