#!/usr/bin/env bash
# A podman pod on real libxl (docs/pods.md): the infra container's guest is the pod's VM, and
# each further container runs in it as a session of runxl-init, its rootfs bound live into the
# running 9pfs backend. Its containers share localhost; the pod is one domain; removing the
# pod leaves nothing. Sourced by Tests/lab/in-dom0.sh after network-in-dom0.sh; alone:
# `RUNXL_LAB_ONLY=pods Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  pods_standalone=1
fi
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"

# The binds of pod members that dom0 made in the pod's 9pfs backend, as that backend sees them.
member_binds() {
  local backend
  backend=$(pgrep -f 'xen-qemu-system-i386.*-xen-domid' | head -n 1)
  [ -n "$backend" ] || { echo 0; return; }
  nsenter -t "$backend" -m cat /proc/self/mounts | grep -c '/share/control/pod/'
}

# member_bundle NAME SCRIPT: a further container of pod "rxsb": the share-mode sleeper's config
# with CRI-O's annotations (what podman 4.3 passes) and its own process.
member_bundle() {
  rm -rf "${work:?}/$1"
  mkdir -p "$work/$1"
  /usr/bin/python3 - "$work/sleeper-share/config.json" "$work/$1/config.json" "$2" <<'PY'
import json, sys
source, target, script = sys.argv[1:]
config = json.load(open(source))
config["annotations"] = {"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": "rxsb"}
config.pop("hostname", None)
config["root"]["readonly"] = False
config["process"]["args"] = ["sh", "-c", script]
json.dump(config, open(target, "w"), indent=1)
PY
}

# What the running guests and their 9pfs backends take: Xen's free memory (MiB) and the
# backends' resident memory in dom0 (KiB).
xen_free_mib() { xl info | awk '/^free_memory/ { print $3 }'; }
backends_rss_kib() {
  local total=0 pid
  for pid in $(pgrep -f 'xen-qemu-system-i386.*-xen-domid'); do
    total=$((total + $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
free_before=$(xen_free_mib)

echo "== pods: further containers run in the first container's VM and share its localhost"
start=$(now)
timeout 300 "$runxl" --root "$root" run --detach --bundle "$work/sleeper-share" rxsb </dev/null >/dev/null 2>/tmp/pod.err
expect "pods: the pod's first container runs" 0 "$?"
echo "FIGURE pods: create + start of a container in a fresh VM (s): $(since "$start")"
member_bundle rxweb 'mkdir -p /tmp/w; echo pod-hello >/tmp/w/i; exec httpd -f -p 8080 -h /tmp/w'
start=$(now)
timeout 120 "$runxl" --root "$root" run --detach --bundle "$work/rxweb" rxweb </dev/null >/tmp/podweb.out 2>/tmp/podweb.err
status=$?
echo "FIGURE pods: create + start of a container in a running pod (s): $(since "$start")"
expect "pods: a further container starts in the pod" 0 "$status"
[ "$status" = 0 ] || echo "  runxl said: $(tail -c 600 /tmp/podweb.err)"
expect "pods: the pod is one domain" 1 "$(xl list | awk 'NR > 2' | grep -c .)"
member_bundle rxclient 'for i in $(seq 1 150); do wget -q -O- http://127.0.0.1:8080/i && exit 0; sleep 0.2; done; exit 1'
start=$(now)
timeout 120 "$runxl" --root "$root" run --bundle "$work/rxclient" rxclient </dev/null >/tmp/pod.out 2>/tmp/pod.err
status=$?
echo "FIGURE pods: run of a client container in the pod, to exit (s): $(since "$start")"
expect "pods: a container reads the other's page over 127.0.0.1" "0 pod-hello" "$status $(cat /tmp/pod.out)"
[ "$status" = 0 ] || echo "  runxl said: $(tail -c 600 /tmp/pod.err)"
member_bundle rxstatus 'hostname; echo to-stderr >&2; exit 7'
timeout 120 "$runxl" --root "$root" run --bundle "$work/rxstatus" rxstatus </dev/null >/tmp/pod.out 2>/tmp/pod.err
expect "pods: a member's exit status, and the pod's hostname" "7 runxl" "$? $(paste -sd' ' /tmp/pod.out)"
grep -q to-stderr /tmp/pod.err && pass "pods: a member's stderr is its own" || fail "pods: member stderr: $(tail -c 400 /tmp/pod.err)"
expect "pods: exec runs in the member's own root" pod-hello "$(timeout 60 "$runxl" --root "$root" exec rxweb cat /tmp/w/i 2>&1)"
expect "pods: the member's writes are in its rootfs on the host" pod-hello "$(cat "$work/busybox-rootfs/tmp/w/i" 2>&1)"
expect "pods: dom0 bound the member's rootfs into the pod's backend" 1 "$(member_binds)"
member_bundle rxidle 'exec sleep 600'
timeout 120 "$runxl" --root "$root" run --detach --bundle "$work/rxidle" rxidle </dev/null >/dev/null 2>&1
echo "FIGURE pods: one pod of 3 containers: Xen memory used (MiB): $((free_before - $(xen_free_mib))), 9pfs backends' RSS in dom0 (KiB): $(backends_rss_kib)"
rx delete --force rxidle
# httpd is PID 1 of the member's own pid namespace: a TERM it has no handler for does nothing,
# as under runc; KILL ends it.
timeout 60 "$runxl" --root "$root" kill rxweb TERM
sleep 2
expect "pods: a member's PID 1 ignores a TERM it has no handler for, as under runc" running \
  "$(rx state rxweb 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
timeout 60 "$runxl" --root "$root" kill rxweb KILL
for _ in $(seq 1 60); do rx state rxweb 2>/dev/null | grep -q '"stopped"' && break; sleep 0.5; done
expect "pods: kill KILL stops a member" stopped "$(rx state rxweb 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
rx delete rxweb
expect "pods: deleting a member takes its binds out of the pod's backend" 0 "$(member_binds)"
expect "pods: the pod's VM runs on" running "$(rx state rxsb 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
member_bundle rxlast 'sleep 600'
timeout 120 "$runxl" --root "$root" run --detach --bundle "$work/rxlast" rxlast </dev/null >/dev/null 2>&1
rx delete --force rxsb
for _ in $(seq 1 60); do rx state rxlast 2>/dev/null | grep -q '"stopped"' && break; sleep 0.5; done
expect "pods: deleting the first container stops the others" stopped "$(rx state rxlast 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
rx delete --force rxlast
only_dom0 && root_empty && pass "pods: nothing left" || fail "pods: left: $(xl list | awk 'NR > 2') $(ls -A "$root")"
if wants_figures; then
  # The same three containers as three VMs of their own.
  for name in rxvm1 rxvm2 rxvm3; do
    timeout 300 "$runxl" --root "$root" run --detach --bundle "$work/sleeper-share" "$name" </dev/null >/dev/null 2>&1
  done
  echo "FIGURE pods: 3 single-container VMs: Xen memory used (MiB): $((free_before - $(xen_free_mib))), 9pfs backends' RSS in dom0 (KiB): $(backends_rss_kib)"
  for name in rxvm1 rxvm2 rxvm3; do rx delete --force "$name"; done
fi
rm -rf /var/tmp/lab-rootfs/tmp/w

# The suites' host config runs initramfs mode (lab-common.sh); a pod needs share mode, runxl's
# default, whose 9pfs backend takes each further container's rootfs.
share_mode_on

echo "== pods: a podman pod is one VM; its containers share localhost"
# The infra image is busybox with `sleep 600` as its Cmd (--infra-command takes one word only);
# podman create and commit do not call the runtime.
pm rm -f rxpod-base >/dev/null 2>&1
if pm create --name rxpod-base "$image" true >/dev/null 2>/tmp/pod.err \
  && pm commit -q --change 'CMD ["sleep","600"]' rxpod-base localhost/rxpod-infra >/dev/null 2>>/tmp/pod.err \
  && pm rm -f rxpod-base >/dev/null 2>>/tmp/pod.err \
  && pm pod create --name rxpod --infra-image localhost/rxpod-infra >/dev/null 2>>/tmp/pod.err \
  && pm pod start rxpod >/dev/null 2>>/tmp/pod.err; then
  start=$(now)
  pm run -d --name rxpod-web --pod rxpod "$image" \
    sh -c 'mkdir -p /tmp/w; echo pod-hello >/tmp/w/i; exec httpd -f -p 8080 -h /tmp/w' >/dev/null 2>/tmp/pod.err
  status=$?
  echo "FIGURE pods: podman run -d of a container into a running pod (s): $(since "$start")"
  expect "pods: podman run -d --pod starts the pod's second container" 0 "$status"
  [ "$status" = 0 ] || echo "  podman said: $(tail -c 800 /tmp/pod.err)"
  expect "pods: the pod with two containers is one domain" 1 "$(podman_domains)"
  expect "pods: dom0 bound the member's rootfs and binds into the pod's backend" yes \
    "$([ "$(member_binds)" -ge 1 ] && echo yes || echo "no: $(member_binds)")"

  start=$(now)
  pm run --rm --pod rxpod "$image" \
    sh -c 'for i in $(seq 1 150); do wget -q -O- http://127.0.0.1:8080/i && exit 0; sleep 0.2; done; exit 1' \
    >/tmp/pod.out 2>/tmp/pod.err
  status=$?
  echo "FIGURE pods: podman run --rm of a client in the pod, to exit (s): $(since "$start")"
  expect "pods: a container reads the other's page over 127.0.0.1" "0 pod-hello" "$status $(cat /tmp/pod.out)"
  [ "$status" = 0 ] || echo "  podman said: $(tail -c 800 /tmp/pod.err)"

  pm run --rm --pod rxpod "$image" sh -c 'echo to-stderr >&2; exit 7' >/tmp/pod.out 2>/tmp/pod.err
  expect "pods: a member's exit status reaches podman" 7 "$?"
  grep -q to-stderr /tmp/pod.err && pass "pods: a member's stderr reaches podman" || fail "pods: member stderr: $(tail -c 400 /tmp/pod.err)"
  pm run --rm --pod rxpod "$image" sh -c 'hostname; cat /proc/1/comm; echo $$' >/tmp/pod.out 2>/tmp/pod.err
  expect "pods: a member has the pod's hostname" rxpod "$(head -n 1 /tmp/pod.out)"
  expect "pods: a member is PID 1 of its own pid namespace, as under runc" "sh 1" "$(sed -n 2,3p /tmp/pod.out | paste -sd' ')"

  # The member's writes land in its rootfs on the host, where podman cp reads them.
  rm -f /tmp/pod-cp
  pm cp rxpod-web:/tmp/w/i /tmp/pod-cp >/dev/null 2>/tmp/pod.err
  expect "pods: podman cp reads what the member wrote" pod-hello "$(cat /tmp/pod-cp 2>/dev/null)"

  pm exec rxpod-web sh -c 'cat /tmp/w/i; ls /tmp/w' >/tmp/pod.out 2>/tmp/pod.err
  expect "pods: podman exec runs in the member's own root" "pod-hello|i" "$(paste -sd'|' /tmp/pod.out)"

  start=$(now)
  pm stop -t 10 rxpod-web >/dev/null 2>/tmp/pod.err
  echo "FIGURE pods: podman stop of a pod member (s): $(since "$start")"
  expect "pods: podman stop of a member" exited "$(pm inspect -f '{{.State.Status}}' rxpod-web 2>/dev/null)"
  pm rm -f rxpod-web >/dev/null 2>&1
  expect "pods: removing a member leaves the pod's VM running" 1 "$(podman_domains)"
  expect "pods: removing a member takes its binds out of the pod's backend" 0 "$(member_binds)"

  # A member removed while it runs, then the pod with another member still running.
  pm run -d --name rxpod-a --pod rxpod "$image" sleep 600 >/dev/null 2>&1
  pm rm -f rxpod-a >/dev/null 2>/tmp/pod.err
  expect "pods: podman rm -f of a running member" 0 "$?"
  pm run -d --name rxpod-b --pod rxpod "$image" sleep 600 >/dev/null 2>&1
else
  fail "pods: podman pod create/start: $(tail -c 600 /tmp/pod.err)"
fi
pm pod rm -f rxpod >/dev/null 2>/tmp/pod.err
expect "pods: podman pod rm -f" 0 "$?"
pm rmi -f localhost/rxpod-infra >/dev/null 2>&1
expect "pods: podman pod rm -f leaves no domain" 0 "$(podman_domains)"
runxl_state_empty && pass "pods: podman pod rm -f leaves no runxl state" || fail "pods: runxl state left: $(ls -A /run/runxl)"

share_mode_off

if [ -n "${pods_standalone:-}" ]; then finish_lab; fi
