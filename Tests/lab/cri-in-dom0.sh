#!/usr/bin/env bash
# A Kubernetes pod through a real CRI client (docs/pods.md): containerd's CRI plugin with a
# `runxl` runtime handler (the runc shim with BinaryName=runxl), driven over gRPC by
# Tests/lab/cri/cri-client.py as a kubelet would: RunPodSandbox, CreateContainer and
# StartContainer twice, ExecSync, ContainerStatus, the pod VM grown by its containers' limits,
# StopPodSandbox, RemovePodSandbox. One domain per pod; the containers reach each other on
# 127.0.0.1; nothing left. Sourced by Tests/lab/in-dom0.sh after pods-in-dom0.sh; alone:
# `RUNXL_LAB_ONLY=cri Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  cri_standalone=1
fi
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
. "$(dirname "${BASH_SOURCE[0]}")/cri/cri-setup.sh"

# The pod's network namespace (CNI's bridge) reaches its VM through netback.
load_network_modules
# containerd's runc shim passes this --root to its runtime (options.Root of the k8s.io namespace).
cri_root=/run/containerd/runc/k8s.io
cri_domains() { xl list | awk 'NR > 2 { print $1 }' | grep -c . ; }
# domain_column N: column N of the pod's one domain in `xl list` (3: memory MiB, 4: online vCPUs).
domain_column() { xl list | awk -v n="$1" 'NR == 3 { print $n }'; }
# wait_domain_memory OP MIB: until the domain's memory is OP (ge, le) MIB, at most 60 s; prints it.
wait_domain_memory() {
  local _ memory
  for _ in $(seq 1 120); do
    memory=$(domain_column 3)
    [ -n "$memory" ] && [ "$memory" -"$1" "$2" ] && break
    sleep 0.5
  done
  echo "$memory"
}
runxl_supervisors() { pgrep -f "runxl.* supervise " | grep -c . ; }
cri_show_failure() {
  echo "  containerd said: $(grep -a -i 'level=error' "$cri_dir/containerd.log" | tail -n 3 | cut -c 1-600)"
}

# The suites' host config runs initramfs mode (lab-common.sh); a pod needs share mode.
share_mode_on

echo "== cri: containerd's CRI with a runxl handler, driven by a CRI client"
# containerd's streaming server listens on 127.0.0.1. The lab's dom0 init brings up no interface
# (a Xen host's boot does); the first CI run of this suite found no 127.0.0.1 after the suites
# before it: say what there was, and bring the loopback up as a host has it.
if ! ip -o -4 addr show dev lo 2>/dev/null | grep -q '127.0.0.1'; then
  echo "note: dom0's loopback had no 127.0.0.1 ($(ip -o link show dev lo 2>&1 | cut -c 1-120); net ns $(readlink /proc/self/ns/net) vs init's $(readlink /proc/1/ns/net)); bringing it up"
  ip link set dev lo up
fi
export CRI_SANDBOX_IMAGE=localhost/pause:1 CRI_RUNXL=$clients/bin/runxl
rm -rf /run/cri
cri_render_config /run/cri
cri_render_cni /run/cri 10.88.77.0/24
if ! cri_start /run/cri; then
  fail "cri: containerd's CRI did not start: $(tail -n 5 /run/cri/containerd.log | cut -c 1-400)"
elif ! cri_import /run/cri "$work/images/busybox-docker.tar" "$work/images/pause-docker.tar"; then
  fail "cri: image import into containerd's k8s.io namespace"
else
  pass "cri: containerd's CRI answers ($(cri --field runtime_version version 2>&1))"
  cri_image=docker.io/library/busybox:latest
  start=$(now)
  pod=$(cri run-pod --name crip --handler runxl --state /run/cri/crip.json 2>/tmp/cri.err)
  status=$?
  echo "FIGURE cri: RunPodSandbox with the runxl handler (s): $(since "$start")"
  expect "cri: RunPodSandbox boots the pod's VM" 0 "$status"
  [ "$status" = 0 ] || { echo "  cri said: $(tail -c 600 /tmp/cri.err)"; cri_show_failure; }
  expect "cri: the pod is one domain" 1 "$(cri_domains)"
  boot_memory=$(domain_column 3)
  expect "cri: the pod's VM boots with one vCPU" 1 "$(domain_column 4)"

  # The server: 128 MiB and 1.5 CPUs of limits, which the pod's VM grows by.
  start=$(now)
  web=$(cri create --state /run/cri/crip.json --name web --image "$cri_image" --memory $((128 << 20)) \
    --cpu-quota 150000 --cpu-period 100000 -- \
    sh -c 'mkdir -p /tmp/w; echo cri-hello >/tmp/w/i; exec httpd -f -p 8080 -h /tmp/w' 2>/tmp/cri.err) &&
    cri start "$web" 2>>/tmp/cri.err
  status=$?
  echo "FIGURE cri: CreateContainer + StartContainer in the running pod (s): $(since "$start")"
  expect "cri: the first container starts in the pod" 0 "$status"
  [ "$status" = 0 ] || { echo "  cri said: $(tail -c 600 /tmp/cri.err)"; cri_show_failure; }
  start=$(now)
  grown=$(wait_domain_memory ge $((boot_memory + 120)))
  echo "FIGURE cri: the pod's VM ballooned from $boot_memory to $grown MiB in (s): $(since "$start")"
  expect "cri: the pod's VM grew by the container's memory limit" yes \
    "$([ "${grown:-0}" -ge $((boot_memory + 120)) ] && echo yes || echo "no: $boot_memory -> $grown MiB")"
  expect "cri: the pod's VM has 1 + ceil(1.5) vCPUs online" "3 0-2" \
    "$(domain_column 4) $(cri exec "$web" --raw -- cat /sys/devices/system/cpu/online 2>&1)"
  mem_total=$(cri exec "$web" --raw -- awk '/MemTotal/ { print $2 }' /proc/meminfo 2>/dev/null)
  expect "cri: the guest sees the grown memory" yes \
    "$([ "${mem_total:-0}" -gt 300000 ] && echo yes || echo "no: MemTotal $mem_total kB")"

  # The client: reads the server's page over the pod's localhost, then exits with 3.
  client=$(cri create --state /run/cri/crip.json --name client --image "$cri_image" -- \
    sh -c 'for i in $(seq 1 150); do wget -q -O- http://127.0.0.1:8080/i && exit 3; sleep 0.2; done; exit 1' \
    2>/tmp/cri.err) && cri start "$client" 2>>/tmp/cri.err
  expect "cri: the second container starts in the pod" 0 "$?"
  expect "cri: ContainerStatus has the client's exit code" 3 "$(cri wait "$client" --timeout 90 2>&1)"
  expect "cri: ContainerStatus of the exited client" "CONTAINER_EXITED 3" \
    "$(cri --field state status "$client" 2>&1) $(cri --field exit_code status "$client" 2>&1)"
  expect "cri: the pod is still one domain" 1 "$(cri_domains)"

  expect "cri: ExecSync output and exit code" "4|out|err" \
    "$(cri exec "$web" -- sh -c 'cat /tmp/w/i >/dev/null; echo out; echo err >&2; exit 4' 2>&1 |
      /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["exit_code"], r["stdout"].strip(), r["stderr"].strip(), sep="|")')"
  expect "cri: ExecSync runs in the container's own root and pid namespace" "cri-hello httpd" \
    "$(cri exec "$web" --raw -- sh -c 'cat /tmp/w/i; cat /proc/1/comm' 2>&1 | paste -sd' ')"

  # Past the pod's ceiling (1024 MiB by default): CRI's CreateContainer only records the
  # container; StartContainer runs the runtime's create, which refuses it and makes nothing.
  records_before=$(ls -A "$cri_root" | grep -c .)
  huge=$(cri create --state /run/cri/crip.json --name huge --image "$cri_image" --memory $((2048 << 20)) -- true 2>/tmp/cri.err) &&
    cri start "$huge" >/tmp/cri.out 2>>/tmp/cri.err
  status=$?
  expect "cri: a container past the pod's memory ceiling is refused, saying why" "yes" \
    "$([ "$status" != 0 ] && grep -q 'can grow to 1024 MiB' /tmp/cri.err && echo yes || echo "no: $status $(tail -c 400 /tmp/cri.err)")"
  expect "cri: the refused container left no runxl record and the VM's size" "$records_before $grown" \
    "$(ls -A "$cri_root" | grep -c .) $(domain_column 3)"
  [ -n "$huge" ] && cri remove "$huge" 2>/dev/null

  # Deleting the pod's containers one by one gives their share back; the VM runs on.
  cri stop "$web" --timeout 2 2>/dev/null
  expect "cri: StopContainer of the server" "CONTAINER_EXITED" "$(cri --field state status "$web" 2>&1)"
  cri remove "$web" 2>/dev/null && cri remove "$client" 2>/dev/null
  expect "cri: RemoveContainer of both" 0 "$?"
  shrunk=$(wait_domain_memory le $((boot_memory + 8)))
  expect "cri: removing the containers shrinks the pod's VM back" "yes 1" \
    "$([ "${shrunk:-0}" -le $((boot_memory + 8)) ] && echo yes || echo "no: $shrunk MiB") $(domain_column 4)"
  expect "cri: the pod's VM runs on without containers" 1 "$(cri_domains)"
  cri stop-pod "$pod" 2>/tmp/cri.err && cri remove-pod "$pod" 2>>/tmp/cri.err
  expect "cri: StopPodSandbox and RemovePodSandbox" 0 "$?"
  expect "cri: no domain left" 0 "$(cri_domains)"

  # The sandbox first: a pod removed while its container runs.
  pod2=$(cri run-pod --name crip2 --handler runxl --state /run/cri/crip2.json 2>/tmp/cri.err) &&
    sleeper=$(cri create --state /run/cri/crip2.json --name sleeper --image "$cri_image" -- sleep 600 2>>/tmp/cri.err) &&
    cri start "$sleeper" 2>>/tmp/cri.err
  expect "cri: a second pod with a running container" 0 "$?"
  cri stop-pod "$pod2" 2>>/tmp/cri.err && cri remove-pod "$pod2" 2>>/tmp/cri.err
  expect "cri: StopPodSandbox + RemovePodSandbox with a container running" 0 "$?"
  [ -n "$(cri pods -q 2>/dev/null)" ] && fail "cri: pods left: $(cri pods -q)"
fi
cri_stop /run/cri
for _ in $(seq 1 20); do [ "$(runxl_supervisors)" = 0 ] && break; sleep 0.5; done
expect "cri: nothing left (domains, runxl records, supervisors)" "0 0 0" \
  "$(cri_domains) $(ls -A "$cri_root" 2>/dev/null | grep -c .) $(runxl_supervisors)"
share_mode_off

if [ -n "${cri_standalone:-}" ]; then finish_lab; fi
