#!/usr/bin/env bash
# Section 8 of Tests/lab/bench-in-dom0.sh (sourced there: figure, median, ratio, elapsed, nap,
# rx, runxl_sample, xl_sample, podman_first, $work = dom0-local copies): issue 17's targets with
# the warm pool (docs/fast-start.md): `runxl launch` against raw `xl create` of the converted
# guest, `podman run` and `ctr run` against runc, each runxl sample taking a warm VM. The pool is
# refilled before each runxl sample and its boot timed apart: the figures are a host with a
# warm VM waiting, and the refill's boot is what a host pays in the background for each one.

echo "== 8. the warm pool (\"warmPool\": 1, share mode): launch vs xl create, podman and ctr vs runc ($samples samples each)"
cp /etc/runxl/config.json /tmp/bench-config-before-warm.json
/usr/bin/python3 -c 'import json; p = "/etc/runxl/config.json"; c = json.load(open(p)); c["rootfs"] = "share"; c["warmPool"] = 1; json.dump(c, open(p, "w"))'
refill_t=()
# warm_refill: waits (up to 300 s) until the pool has an idle VM and none booting; the wait's
# length joins refill_t when something was booting.
warm_refill() {
  local start=$EPOCHREALTIME i listing waited=0
  for ((i = 0; i < 3000; i++)); do
    listing=$("$runxl" warm ls 2>/dev/null)
    if [[ $listing == *" ready"* && $listing != *" booting"* ]]; then
      ((waited)) && refill_t+=("$(elapsed "$start" "$EPOCHREALTIME")")
      return 0
    fi
    waited=1
    nap 0.1
  done
  note "no warm VM ready within 300 s: $listing $(cat /run/runxl-warm/shapes/*.failed 2>/dev/null)"
  return 1
}
# count_warm: counts the last runxl sample as a warm VM's when it left no console log of a cold
# boot (a cold guest's domain, and log, is named after the container; a warm one's is not).
warm_taken=0
cold_logs() { ls /var/log/xen/console/ | grep -v '^guest-runxl-warm-' | grep -c '^guest-runxl-'; }
count_warm() { [ "$(cold_logs)" = "$cold_before" ] && warm_taken=$((warm_taken + 1)); }

# 8a: launch (share mode, a warm VM) against xl create of the converted hello (initramfs: the
# guest config runxl writes for xl, same kernel, memory and command line).
runxl_sample; note "8a warm-up runxl (cold, records the shape): ${SAMPLE:-failed} s"
launch_t=(); xlw_t=()
for ((n = 1; n <= samples; n++)); do
  warm_refill
  cold_before=$(cold_logs); runxl_sample; count_warm; [ -n "$SAMPLE" ] && launch_t+=("$SAMPLE"); note "sample $n runxl launch (warm): ${SAMPLE:-failed} s"
  warm_refill
  xl_sample; [ -n "$SAMPLE" ] && xlw_t+=("$SAMPLE"); note "sample $n xl create: ${SAMPLE:-failed} s"
done
# Where a warm launch's time goes: one more, with create's phase trace.
warm_refill
start=$EPOCHREALTIME
"$runxl" --root "$root" --debug launch "$work/hello" 2>/tmp/bench-warm-trace.err | { IFS= read -r _; note "traced warm launch, first output after $(elapsed "$start" "$EPOCHREALTIME") s"; cat >/dev/null; }
grep -a -E " at \+[0-9]+ ms" /tmp/bench-warm-trace.err | sed 's/^/    /'
figure "8a runxl launch to first output from a warm VM, median of ${#launch_t[@]} (s)" "$(median "${launch_t[@]}")"
figure "8a xl create to first console output, median of ${#xlw_t[@]} (s)" "$(median "${xlw_t[@]}")"
figure "8a ratio warm launch/xl create (target <= 0.5x)" "$(ratio "$(median "${launch_t[@]}")" "$(median "${xlw_t[@]}")")x"

# 8b: podman run --rm IMG echo, runxl from a warm VM against runc.
declare -F pass >/dev/null || { pass() { echo "  ok: $*"; }; fail() { echo "  FAILED: $*"; }; }
bench_work=$work
work=$RUNXL_LAB_WORK
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
work=$bench_work
podman_first runxl; note "8b warm-up podman runxl (records its shape): ${SAMPLE:-failed} s"
podman_first runc; note "8b warm-up podman runc: ${SAMPLE:-failed} s"
pmw_t=(); pmc_t=()
for ((n = 1; n <= samples; n++)); do
  warm_refill
  cold_before=$(cold_logs); podman_first runxl; count_warm; [ -n "$SAMPLE" ] && pmw_t+=("$SAMPLE"); note "sample $n podman runxl (warm): ${SAMPLE:-failed} s"
  warm_refill
  podman_first runc; [ -n "$SAMPLE" ] && pmc_t+=("$SAMPLE"); note "sample $n podman runc: ${SAMPLE:-failed} s"
done
figure "8b podman run to first output, runxl from a warm VM, median of ${#pmw_t[@]} (s)" "$(median "${pmw_t[@]}")"
figure "8b podman run to first output, runc, median of ${#pmc_t[@]} (s)" "$(median "${pmc_t[@]}")"
figure "8b ratio podman warm runxl/runc (target <= 2.0x)" "$(ratio "$(median "${pmw_t[@]}")" "$(median "${pmc_t[@]}")")x"

# 8c: ctr run --rm IMG echo through the runc shim, runxl from a warm VM against runc.
work=$RUNXL_LAB_WORK
start_containerd
work=$bench_work
# ctr_first BINARY N: SAMPLE = seconds from ctr run to its output line.
ctr_first() {
  local start=$EPOCHREALTIME
  SAMPLE=""
  rm -f /tmp/bench-first
  c run --rm --runtime io.containerd.runc.v2 --runc-binary "$1" "$ctr_image" "bench-ctr-$2" echo ctr-first </dev/null 2>/tmp/bench-ctr.err |
    { IFS= read -r line; [ "$(printf %s "$line" | tr -d '\r')" = ctr-first ] && echo "$EPOCHREALTIME" >/tmp/bench-first; cat >/dev/null; }
  [ -f /tmp/bench-first ] && SAMPLE=$(elapsed "$start" "$(</tmp/bench-first)") || note "ctr ($1) failed: $(tail -c 300 /tmp/bench-ctr.err)"
}
ctr_first "$clients/bin/runxl" w0; note "8c warm-up ctr runxl (records its shape): ${SAMPLE:-failed} s"
ctr_first runc c0; note "8c warm-up ctr runc: ${SAMPLE:-failed} s"
ctrw_t=(); ctrc_t=()
for ((n = 1; n <= samples; n++)); do
  warm_refill
  cold_before=$(cold_logs); ctr_first "$clients/bin/runxl" "w$n"; count_warm; [ -n "$SAMPLE" ] && ctrw_t+=("$SAMPLE"); note "sample $n ctr runxl (warm): ${SAMPLE:-failed} s"
  warm_refill
  ctr_first runc "c$n"; [ -n "$SAMPLE" ] && ctrc_t+=("$SAMPLE"); note "sample $n ctr runc: ${SAMPLE:-failed} s"
done
kill "$containerd_pid" 2>/dev/null
wait "$containerd_pid" 2>/dev/null
figure "8c ctr run to first output, runxl from a warm VM, median of ${#ctrw_t[@]} (s)" "$(median "${ctrw_t[@]}")"
figure "8c ctr run to first output, runc, median of ${#ctrc_t[@]} (s)" "$(median "${ctrc_t[@]}")"
figure "8c ratio ctr warm runxl/runc (target <= 2.0x)" "$(ratio "$(median "${ctrw_t[@]}")" "$(median "${ctrc_t[@]}")")x"

# 8d: what the pool costs: a warm VM's boot (the background refill after each take), and an
# idle one's Xen memory and 9pfs backend in dom0.
warm_refill
figure "8 runxl samples that ran in a warm VM" "$warm_taken of $((${#launch_t[@]} + ${#pmw_t[@]} + ${#ctrw_t[@]}))"
figure "8d a warm VM's refill, from the take to ready, median of ${#refill_t[@]} (s)" "$(median "${refill_t[@]}")"
idle=$(xl list | awk '$1 ~ /^runxl-warm-/ { print $1; exit }')
if [ -n "$idle" ]; then
  figure "8d an idle warm VM's Xen memory (MiB)" "$(xl list "$idle" | awk 'NR == 2 { print $3 }')"
  backend=$(pgrep -f "xen-qemu-system-i386.*-xen-domid $(xl domid "$idle")( |$)" | head -n 1)
  [ -n "$backend" ] && figure "8d an idle warm VM's 9pfs backend VmRSS (KiB)" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$backend/status")"
fi
"$runxl" warm drain | sed 's/^/  /'
mv /tmp/bench-config-before-warm.json /etc/runxl/config.json
