#!/usr/bin/env bash
# The OCI runtime-tools validation suite against runxl in the lab's dom0 (Tests/runtime-tools:
# build.sh on the host put the test binaries and a busybox rootfs tarball in
# $RUNXL_LAB_WORK/runtime-tools). Its sources are not in Debian and not in git: where the host
# had none, this prints that it is skipped and why, and counts nothing. The results are
# figures (which validations pass), not pass/fail checks: runc itself fails some of them.
# Sourced by Tests/lab/in-dom0.sh; alone: `RUNXL_LAB_ONLY=runtime-tools Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  runtime_tools_standalone=1
fi

echo "== runtime-tools validation against runxl"
rt=$RUNXL_LAB_WORK/runtime-tools
if [ ! -x "$rt/bin/runtimetest" ] || [ ! -f "$rt/rootfs-amd64.tar.gz" ]; then
  echo "  skipped: $(cat "$rt/skipped" 2>/dev/null || echo "the host built no runtime-tools binaries") (not counted)"
else
  # runxl as the tests call it: by path, with this lab's --root through a wrapper.
  cat >/tmp/runxl-rt <<WRAP
#!/bin/sh
exec "$runxl" --root /run/runxl-rt "\$@"
WRAP
  chmod +x /tmp/runxl-rt
  # RUNXL_RT_ROOTFS=share runs the tests in runxl's default mode (the lab's suites use
  # initramfs mode for time): a file the container writes then lands in the bundle's rootfs.
  if [ -n "${RUNXL_RT_ROOTFS:-}" ]; then
    cp /etc/runxl/config.json /tmp/runxl-rt-config.json
    python3 - "$RUNXL_RT_ROOTFS" <<'PY'
import json, sys
config = json.load(open("/etc/runxl/config.json"))
config["rootfs"] = sys.argv[1]
json.dump(config, open("/etc/runxl/config.json", "w"))
PY
    echo "  rootfs mode: $RUNXL_RT_ROOTFS"
  fi
  # Bundles (a rootfs and the runtimetest binary each) on the host's disk through the lab's
  # share: dom0's /tmp is RAM and filled up within one run. The logs stay beside them.
  # RUNXL_RT_SCRATCH=DIR puts them elsewhere, e.g. dom0's own /tmp: the lab's virtio 9p share
  # refuses mknod (ENXIO), which linux_readonly_paths needs for its device nodes.
  scratch=${RUNXL_RT_SCRATCH:-$rt/scratch}
  mkdir -p "$scratch"
  TMPDIR=$scratch RT_TIMEOUT=${RUNXL_RT_TIMEOUT:-240} RT_TESTS=${RUNXL_RT_TESTS:-} RT_LOGDIR=$rt/logs \
    "$(dirname "${BASH_SOURCE[0]}")/../runtime-tools/run.sh" /tmp/runxl-rt "$rt/bin" "$rt/rootfs-amd64.tar.gz" |
    sed 's/^/  /' | tee /tmp/rt-summary
  echo "FIGURE runtime-tools $(tail -n 1 /tmp/rt-summary | sed 's/^ *//')"
  for dir in /run/runxl-rt/*; do [ -e "$dir" ] && "$runxl" --root /run/runxl-rt delete --force "$(basename "$dir")" 2>/dev/null; done
  only_dom0 && pass "runtime-tools: no domain left" || fail "runtime-tools: domains left: $(xl list)"
  [ -f /tmp/runxl-rt-config.json ] && mv /tmp/runxl-rt-config.json /etc/runxl/config.json
fi

if [ -n "${runtime_tools_standalone:-}" ]; then finish_lab; fi
