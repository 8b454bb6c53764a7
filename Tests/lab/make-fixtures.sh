#!/usr/bin/env bash
# Builds, on the host, the bundles the lab tests boot: a busybox rootfs (busybox-static) with
# a passwd file, wrapped into OCI bundles whose config.json is made from `runxl spec`.
# Usage: Tests/lab/make-fixtures.sh RUNXL DIR
set -euo pipefail
runxl=$1
dir=$2
rootfs=$dir/busybox-rootfs
"$(dirname "$0")/../../Images/busybox/make-rootfs" "$rootfs"

# bundle NAME JSON-PATCH: a bundle around the shared rootfs with config.json patched by python.
bundle() {
  local name=$1 patch=$2
  rm -rf "${dir:?}/$name"
  mkdir -p "$dir/$name"
  "$runxl" spec --bundle "$dir/$name"
  /usr/bin/python3 - "$dir/$name/config.json" "$rootfs" "$patch" <<'PY'
import json, sys
path, rootfs, patch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": True}
config["process"]["terminal"] = False
for key, value in patch.get("process", {}).items():
    config["process"][key] = value
for key in ("hostname", "annotations"):
    if key in patch:
        config[key] = patch[key]
for key, value in patch.get("linux", {}).items():
    config["linux"][key] = value
json.dump(config, open(path, "w"), indent=1)
PY
}

bundle stdio '{"process": {"args": ["sh", "-c", "echo out; echo err >&2; exit 7"]}}'
# linux.devices too: made after the spec's tmpfs on /dev, with their mode and owner.
bundle identity '{"process": {"args": ["sh", "-c", "echo $FOO; pwd; id -u; id -g; hostname; stat -c \"%F %t %T %a %u %g\" /dev/test1 /dev/sub/fifo"], "env": ["PATH=/bin", "FOO=bar baz"], "cwd": "/tmp", "user": {"uid": 1000, "gid": 1000}}, "hostname": "lab-host", "linux": {"devices": [{"path": "/dev/test1", "type": "c", "major": 10, "minor": 200, "fileMode": 416, "uid": 1000, "gid": 1000}, {"path": "/dev/sub/fifo", "type": "p", "fileMode": 384}]}}'
bundle sleeper '{"process": {"args": ["sh", "-c", "trap \"echo got-term; exit 42\" TERM; echo ready; while true; do sleep 1; done"]}}'
# The same in share mode (the lab's host config makes initramfs mode the suites' default).
bundle sleeper-share '{"process": {"args": ["sh", "-c", "trap \"echo got-term; exit 42\" TERM; echo ready; while true; do sleep 1; done"]}, "annotations": {"org.runxl.rootfs": "share"}}'
bundle selfkill '{"process": {"args": ["sh", "-c", "kill -TERM $$"]}}'
# Without a pid namespace: as under runc, a PID 1 ignores a signal it has no handler for, even
# its own, so the self-kill needs a process that is not one.
/usr/bin/python3 - "$dir/selfkill/config.json" <<'PY2'
import json, sys
config = json.load(open(sys.argv[1]))
config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "pid"]
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY2
bundle hello '{"process": {"args": ["echo", "hello from a Xen guest"]}}'
bundle pvh '{"process": {"args": ["sh", "-c", "echo pvh-out; exit 3"]}, "annotations": {"org.runxl.guest.type": "pvh"}}'
bundle badkernel '{"process": {"args": ["echo", "never"]}, "annotations": {"org.runxl.kernel": "/etc/hostname"}}'
bundle hugememory '{"process": {"args": ["echo", "never"]}, "annotations": {"org.runxl.memory": "100000"}}'
# The busybox rootfs as an OCI image layout (and archives), for the image store checks.
"$(dirname "$0")/../images/make-archives.sh" "$dir/images" >/dev/null
# The test unikernels (built with gcc) as OCI layouts, one per packaging convention; with the
# real unikernels too when their sources are there (Images/unikernels/real). The build's exit 3
# (no sources) leaves the reason for the lab to print as a skip; any other failure, for the lab
# to report as one.
real_dir=$dir/real-unikernels
rm -f "$dir/real-unikernels.skipped" "$dir/real-unikernels.failed"
real_status=0
"$(dirname "$0")/../../Images/unikernels/real/build" "" "$real_dir" >/dev/null 2>"$dir/real-unikernels.log" || real_status=$?
case $real_status in
  0) ;;
  3) tail -n 1 "$dir/real-unikernels.log" >"$dir/real-unikernels.skipped"; real_dir= ;;
  *) tail -n 5 "$dir/real-unikernels.log" >"$dir/real-unikernels.failed"; real_dir= ;;
esac
"$(dirname "$0")/../images/make-unikernel-images.sh" "$dir/unikernel-images" $real_dir >/dev/null
echo "fixtures in $dir"
