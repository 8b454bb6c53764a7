#!/usr/bin/env bash
# Runs inside the lab's dom0 (started by `Scripts/bench lab`): runxl against raw `xl create`
# of the same kernel + initramfs, guest churn, and runxl's dom0 memory, all in one boot.
# Prints "FIGURE name: value" lines; the host turns them into a table.
#
# Xen under QEMU/TCG is slow and noisy: the two sides of a ratio alternate, after one warm-up
# each, and medians are reported. Times come from bash's $EPOCHREALTIME and polls read files
# with builtins, so that the ~10 ms a fork costs under TCG does not favour either side.
set -uo pipefail
runxl=$RUNXL_BINARY
work=$RUNXL_LAB_WORK
samples=${RUNXL_BENCH_SAMPLES:-7}
root=/run/runxl-bench
hello="hello from a Xen guest"
export RUNXL_INIT

mkdir -p /etc/runxl /var/lib/runxl "$root"
# initramfs mode by default: sections 1-5 compare runxl with `xl create` of the same kernel and
# initramfs; section 6 names each bundle's mode (share is the runtime's own default); section 7
# measures issue 17's levers with xl alone (the kernel's boot timeline, PV against PVH, xl save
# and restore); section 8 its targets with the warm pool (share mode).
cat >/etc/runxl/config.json <<JSON
{"kernel": "$RUNXL_LAB_KERNEL", "cacheDir": "/var/lib/runxl/cache", "rootfs": "initramfs"}
JSON

figure() { echo "FIGURE $1: $2"; }
# RUNXL_BENCH_SECTIONS (e.g. "1 4"): run only those sections; all by default.
wanted() { [ -z "${RUNXL_BENCH_SECTIONS:-}" ] || [[ " $RUNXL_BENCH_SECTIONS " == *" $1 "* ]]; }

# The bundles are copied from the 9p share into dom0's own file system (tmpfs): a Xen host
# keeps rootfs trees on local storage, and xl's side reads its kernel and initramfs locally too.
# On the uncached 9p share every path component of the cache-key walk was a round trip.
local_work=/var/tmp/runxl-bench
rm -rf "$local_work" && mkdir -p "$local_work"
cp -a "$work/busybox-rootfs" "$local_work/"
for name in hello sleeper; do
  mkdir -p "$local_work/$name"
  sed "s#$work/busybox-rootfs#$local_work/busybox-rootfs#" "$work/$name/config.json" >"$local_work/$name/config.json"
done
work=$local_work
note() { echo "  $*"; }
rx() { "$runxl" --root "$root" "$@"; }
# elapsed START END: seconds between two $EPOCHREALTIME values, 3 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_kb() { median "$@" | awk '{ printf "%d", $1 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.3f", a / n }'; }
domain_count() { xl list | tail -n +2 | wc -l; }

# A sleep without a fork: a read with a timeout on a FIFO nobody writes to.
mkfifo /tmp/bench-nap
exec {nap}<>/tmp/bench-nap
nap() { read -r -t "$1" -u "$nap" _; }

# file_has FILE TEXT, with builtins only. The file may hold NULs (runxl-init's frames on the
# console of a guest booted without runxl), so it is read NUL-separated chunk by chunk.
file_has() {
  local chunk="" more=0
  [ -f "$1" ] || return 1
  while :; do
    IFS= read -r -d '' chunk && more=1 || more=0
    [[ $chunk == *"$2"* ]] && return 0
    ((more)) || return 1
  done <"$1"
}

# hwm PID: sets HWM to the process's VmHWM (kB), unchanged when it is gone.
hwm() {
  local key value unit
  { while read -r key value unit; do
      [ "$key" = "VmHWM:" ] && { HWM=$value; return 0; }
    done <"/proc/$1/status"; } 2>/dev/null
  return 1
}

# alive PID: the process exists and is not a zombie (its parent may be gone, and PID 1 slow).
alive() {
  local pid comm state
  { read -r pid comm state _ <"/proc/$1/stat"; } 2>/dev/null || return 1
  [ "$state" != Z ]
}

# wait_domain_gone NAME SECONDS: the guest powers itself off; destroy it if it lingers.
wait_domain_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do xl domid "$1" >/dev/null 2>&1 || return 0; nap 0.1; done
  note "domain $1 still there after $2 s: destroying it"
  xl destroy "$1" >/dev/null 2>&1
  return 1
}

# One `runxl launch` of hello: sets SAMPLE to the seconds from command start to its first
# stdout line, empty on failure.
runxl_sample() {
  local start=$EPOCHREALTIME
  SAMPLE=""
  rm -f /tmp/bench-first
  timeout 300 "$runxl" --root "$root" launch "$work/hello" 2>/tmp/bench-rx.err |
    { IFS= read -r line; at=$EPOCHREALTIME; [ "$line" = "$hello" ] && echo "$at" >/tmp/bench-first; cat >/dev/null; }
  local status=${PIPESTATUS[0]}
  if [ -f /tmp/bench-first ] && [ "$status" = 0 ]; then
    SAMPLE=$(elapsed "$start" "$(</tmp/bench-first)")
  else
    note "runxl launch failed (status $status): $(tail -c 300 /tmp/bench-rx.err)"
  fi
}

# podman_first RUNTIME [FLAGS...]: SAMPLE = seconds from podman run to its output line (after
# podman-setup.sh: $clients, $image).
podman_first() {
  local runtime=$1 start=$EPOCHREALTIME
  shift
  SAMPLE=""
  rm -f /tmp/bench-first
  timeout -k 5 180 podman --runtime "$runtime" --root "$clients/podman-graph" --runroot "$clients/podman-run" \
    run --rm "$@" "$image" echo podman-first 2>/tmp/bench-pm.err |
    { IFS= read -r line; [ "$line" = podman-first ] && echo "$EPOCHREALTIME" >/tmp/bench-first; cat >/dev/null; }
  [ -f /tmp/bench-first ] && SAMPLE=$(elapsed "$start" "$(</tmp/bench-first)") || note "podman ($runtime $*) failed: $(tail -c 300 /tmp/bench-pm.err)"
}

# One `xl create` of the converted guest (or of the config CONFIG) under a fresh name: sets
# SAMPLE to the seconds from command start to the hello line in its console log, empty on failure.
xl_count=0
xl_sample() {
  xl_count=$((xl_count + 1))
  local name=bench-xl-$xl_count config=${1:-/tmp/bench-converted/xl.cfg}
  local log=/var/log/xen/console/guest-$name.log
  local start=$EPOCHREALTIME end="" i
  SAMPLE=""
  if ! xl create "$config" "name=\"$name\"" >/tmp/bench-xl.log 2>&1; then
    note "xl create failed: $(tail -c 300 /tmp/bench-xl.log)"
    return
  fi
  # 20 ms polls, bounded at 5 minutes; every 2 s, give up if the guest is already gone.
  for ((i = 1; i <= 15000; i++)); do
    if file_has "$log" "$hello"; then end=$EPOCHREALTIME; break; fi
    if ((i % 100 == 0)) && ! xl domid "$name" >/dev/null 2>&1; then
      file_has "$log" "$hello" && end=$EPOCHREALTIME
      break
    fi
    nap 0.02
  done
  if [ -n "$end" ]; then SAMPLE=$(elapsed "$start" "$end"); else note "xl guest $name printed nothing: $(tail -c 300 "$log" 2>/dev/null)"; fi
  wait_domain_gone "$name" 60
}

echo "== runxl image convert of hello (the kernel, initramfs and cmdline runxl boots)"
rm -rf /tmp/bench-converted
rx image convert "$work/hello" --output /tmp/bench-converted >/tmp/bench-convert.log 2>&1 ||
  { echo "image convert failed: $(cat /tmp/bench-convert.log)"; exit 1; }
grep -E '^(kernel|ramdisk|extra|memory|type)' /tmp/bench-converted/xl.cfg | sed 's/^/  /'

if wanted 1; then
echo "== 1. first output: runxl launch vs xl create (warm-up each, then $samples alternating samples each)"
runxl_sample; note "warm-up runxl: ${SAMPLE:-failed} s"
xl_sample; note "warm-up xl: ${SAMPLE:-failed} s"
rx_times=()
xl_times=()
for ((n = 1; n <= samples; n++)); do
  # Alternate which side goes first, so a drift in the machine's speed hits both.
  if ((n % 2)); then order="rx xl"; else order="xl rx"; fi
  for side in $order; do
    if [ "$side" = rx ]; then
      runxl_sample; [ -n "$SAMPLE" ] && rx_times+=("$SAMPLE"); note "sample $n runxl launch: ${SAMPLE:-failed} s"
    else
      xl_sample; [ -n "$SAMPLE" ] && xl_times+=("$SAMPLE"); note "sample $n xl create: ${SAMPLE:-failed} s"
    fi
  done
done
rx_median=$(median "${rx_times[@]}")
xl_median=$(median "${xl_times[@]}")
figure "runxl launch to first output, median of ${#rx_times[@]} (s)" "$rx_median"
figure "xl create to first console output, median of ${#xl_times[@]} (s)" "$xl_median"
figure "ratio runxl/xl first output (target <= 1.1x)" "$(ratio "$rx_median" "$xl_median")x"
figure "runxl launch samples (s)" "${rx_times[*]}"
figure "xl create samples (s)" "${xl_times[*]}"

fi

if wanted 1b; then
echo "== 1b. where runxl's time goes: create, start, first output, guest exit, delete ($samples samples)"
create_t=(); start_t=(); first_t=(); exit_t=(); delete_t=()
for ((n = 1; n <= samples; n++)); do
  id=bench-split-$n
  rm -f /tmp/bench-split.pid /tmp/bench-split.out
  t0=$EPOCHREALTIME
  timeout 120 "$runxl" --root "$root" create --bundle "$work/hello" --pid-file /tmp/bench-split.pid "$id" \
    >/tmp/bench-split.out 2>/tmp/bench-split.err || { note "create failed: $(tail -c 300 /tmp/bench-split.err)"; rx delete --force "$id" 2>/dev/null; continue; }
  t1=$EPOCHREALTIME
  timeout 120 "$runxl" --root "$root" start "$id" 2>>/tmp/bench-split.err || { note "start failed: $(tail -c 300 /tmp/bench-split.err)"; rx delete --force "$id" 2>/dev/null; continue; }
  t2=$EPOCHREALTIME
  supervisor=$(</tmp/bench-split.pid)
  t3=""
  for ((i = 0; i < 15000; i++)); do
    if file_has /tmp/bench-split.out "$hello"; then t3=$EPOCHREALTIME; break; fi
    alive "$supervisor" || break
    nap 0.02
  done
  for ((i = 0; i < 3000; i++)); do alive "$supervisor" || break; nap 0.02; done
  t4=$EPOCHREALTIME
  timeout 120 "$runxl" --root "$root" delete "$id" 2>>/tmp/bench-split.err || { note "delete failed: $(tail -c 300 /tmp/bench-split.err)"; rx delete --force "$id" 2>/dev/null; }
  t5=$EPOCHREALTIME
  [ -n "$t3" ] || { note "sample $n: no output: $(tail -c 300 /tmp/bench-split.err)"; continue; }
  create_t+=("$(elapsed "$t0" "$t1")"); start_t+=("$(elapsed "$t1" "$t2")"); first_t+=("$(elapsed "$t2" "$t3")")
  exit_t+=("$(elapsed "$t3" "$t4")"); delete_t+=("$(elapsed "$t4" "$t5")")
  note "sample $n: create ${create_t[-1]}, start ${start_t[-1]}, start to output ${first_t[-1]}, output to supervisor exit ${exit_t[-1]}, delete ${delete_t[-1]} s"
done
figure "runxl create (domain built, paused, supervisor ready), median (s)" "$(median "${create_t[@]}")"
figure "runxl start (unpause), median (s)" "$(median "${start_t[@]}")"
figure "start returned to first output (guest boot + init + process), median (s)" "$(median "${first_t[@]}")"
figure "first output to supervisor exit (guest exit + teardown), median (s)" "$(median "${exit_t[@]}")"
figure "runxl delete, median (s)" "$(median "${delete_t[@]}")"

fi

if wanted 2a; then
echo "== 2a. 10 guests one after another: runxl launch of hello (boot, output, exit, teardown)"
ok=0
t0=$EPOCHREALTIME
for ((n = 1; n <= 10; n++)); do
  out=$(timeout 300 "$runxl" --root "$root" launch "$work/hello" 2>/tmp/bench-seq.err)
  [ "$out" = "$hello" ] && ok=$((ok + 1)) || note "launch $n: [$out] $(tail -c 300 /tmp/bench-seq.err)"
done
total=$(elapsed "$t0" "$EPOCHREALTIME")
figure "10 sequential runxl launch of hello, total (s)" "$total ($ok/10 ok)"
figure "10 sequential runxl launch of hello, per guest (s)" "$(per "$total" 10)"

fi

if wanted 2b; then
echo "== 2b. 10 guests one after another: runxl create + start + kill KILL + delete of a sleep bundle"
ok=0
t0=$EPOCHREALTIME
for ((n = 1; n <= 10; n++)); do
  id=bench-churn-$n
  rm -f /tmp/bench-churn.pid
  if timeout 120 "$runxl" --root "$root" create --bundle "$work/sleeper" --pid-file /tmp/bench-churn.pid "$id" \
    >/dev/null 2>/tmp/bench-churn.err &&
    timeout 120 "$runxl" --root "$root" start "$id" 2>>/tmp/bench-churn.err &&
    timeout 120 "$runxl" --root "$root" kill "$id" KILL 2>>/tmp/bench-churn.err; then
    # kill KILL destroys the domain; delete wants the supervisor to have recorded the stop.
    supervisor=$(</tmp/bench-churn.pid)
    for ((i = 0; i < 3000; i++)); do alive "$supervisor" || break; nap 0.02; done
    timeout 120 "$runxl" --root "$root" delete "$id" 2>>/tmp/bench-churn.err && ok=$((ok + 1))
  fi
  [ -d "$root/$id" ] && { note "churn $n: $(tail -c 300 /tmp/bench-churn.err)"; rx delete --force "$id" 2>/dev/null; }
done
total=$(elapsed "$t0" "$EPOCHREALTIME")
figure "10 sequential create+start+kill KILL+delete, total (s)" "$total ($ok/10 ok)"
figure "10 sequential create+start+kill KILL+delete, per guest (s)" "$(per "$total" 10)"

fi

if wanted 2c; then
echo "== 2c. 4 guests at once: 4 runxl launch of hello in parallel, wait for all"
t0=$EPOCHREALTIME
pids=()
for ((n = 1; n <= 4; n++)); do
  timeout 300 "$runxl" --root "$root" launch "$work/hello" >/tmp/bench-par-$n.out 2>/tmp/bench-par-$n.err &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
total=$(elapsed "$t0" "$EPOCHREALTIME")
ok=0
for ((n = 1; n <= 4; n++)); do
  [ "$(cat /tmp/bench-par-$n.out)" = "$hello" ] && ok=$((ok + 1)) || note "parallel $n: $(tail -c 300 /tmp/bench-par-$n.err)"
done
figure "4 parallel runxl launch of hello, total (s)" "$total ($ok/4 ok)"
figure "4 parallel runxl launch of hello, per guest (s)" "$(per "$total" 4)"

fi

if wanted 3; then
echo "== 3. dom0 memory of runxl (3 launches, each its own supervisor; VmHWM polled every 20 ms, GNU time's max RSS)"
launch_hwm=(); tree_rss=(); create_rss=(); super2_hwm=()
for ((n = 1; n <= 3; n++)); do
  /usr/bin/time -o /tmp/bench-time -f %M timeout 300 "$runxl" --root "$root" launch "$work/hello" >/tmp/bench-mem.out 2>/tmp/bench-mem.err &
  timer=$!
  launcher="" peak_launch=0
  for ((i = 0; i < 15000; i++)); do
    alive "$timer" || break
    # time -> timeout -> runxl launch
    if [ -z "$launcher" ]; then
      guard=$(pgrep -P "$timer" | head -n 1)
      [ -n "$guard" ] && launcher=$(pgrep -P "$guard" | head -n 1)
    fi
    [ -n "$launcher" ] && hwm "$launcher" && peak_launch=$HWM
    nap 0.02
  done
  wait "$timer"
  launch_hwm+=("$peak_launch"); tree_rss+=("$(cat /tmp/bench-time)")
  note "launch $n: launch VmHWM $peak_launch kB, GNU time max RSS $(cat /tmp/bench-time) kB, output [$(cat /tmp/bench-mem.out)]"
done
# The supervisor of a created container, whose pid --pid-file gives, and the create process.
for ((n = 1; n <= 2; n++)); do
  id=bench-mem-$n
  rm -f /tmp/bench-mem.pid
  /usr/bin/time -o /tmp/bench-time -f %M timeout 120 "$runxl" --root "$root" create --bundle "$work/hello" \
    --pid-file /tmp/bench-mem.pid "$id" >/tmp/bench-mem.out 2>/tmp/bench-mem.err || { note "create failed: $(tail -c 300 /tmp/bench-mem.err)"; continue; }
  create_rss+=("$(cat /tmp/bench-time)")
  supervisor=$(</tmp/bench-mem.pid)
  rx start "$id"
  peak=0
  for ((i = 0; i < 15000; i++)); do alive "$supervisor" || break; hwm "$supervisor" && peak=$HWM; nap 0.02; done
  super2_hwm+=("$peak")
  rx delete --force "$id" 2>/dev/null
  note "create $n: create max RSS $(cat /tmp/bench-time) kB, supervise VmHWM $peak kB"
done
figure "runxl launch process peak RSS, VmHWM median (kB)" "$(median_kb "${launch_hwm[@]}")"
figure "runxl launch, GNU time %M median (kB)" "$(median_kb "${tree_rss[@]}")"
figure "runxl create process peak RSS, GNU time %M median (kB)" "$(median_kb "${create_rss[@]}")"
figure "runxl supervise peak RSS after create+start, VmHWM median (kB)" "$(median_kb "${super2_hwm[@]}")"

fi

if wanted 4; then
echo "== 4. initramfs compression: build time and size (image convert, empty cache) and boot (launch to first output, cached)"
for compression in none lz4 zstd gzip; do
  bundle=$work/hello-$compression
  mkdir -p "$bundle"
  python3 - "$work/hello/config.json" "$bundle/config.json" "$compression" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("annotations", {})["org.runxl.initramfs.compression"] = sys.argv[3]
json.dump(config, open(sys.argv[2], "w"))
PY
  builds=()
  for ((n = 1; n <= 3; n++)); do
    # An empty initramfs cache (the extracted kernel stays): every convert builds.
    rm -rf /var/lib/runxl/cache/initramfs /tmp/bench-cmp-out
    t0=$EPOCHREALTIME
    rx image convert "$bundle" --output /tmp/bench-cmp-out >/dev/null 2>/tmp/bench-cmp.err ||
      note "convert $compression failed: $(tail -c 300 /tmp/bench-cmp.err)"
    builds+=("$(elapsed "$t0" "$EPOCHREALTIME")")
  done
  size=$(stat -c %s /tmp/bench-cmp-out/initramfs.cpio* 2>/dev/null || echo n/a)
  boots=()
  rx launch "$bundle" >/dev/null 2>&1  # fills the cache
  for ((n = 1; n <= samples; n++)); do
    start=$EPOCHREALTIME
    rm -f /tmp/bench-first
    timeout 300 "$runxl" --root "$root" launch "$bundle" 2>/dev/null |
      { IFS= read -r line; at=$EPOCHREALTIME; [ "$line" = "$hello" ] && echo "$at" >/tmp/bench-first; cat >/dev/null; }
    [ -f /tmp/bench-first ] && boots+=("$(elapsed "$start" "$(</tmp/bench-first)")")
  done
  figure "initramfs $compression, convert (build) median of 3 (s)" "$(median "${builds[@]}")"
  figure "initramfs $compression, size (bytes)" "$size"
  figure "initramfs $compression, launch to first output, cached, median of ${#boots[@]} (s)" "$(median "${boots[@]}")"
done

fi

if wanted 5; then
echo "== 5. guest kernel: Debian's kernel against runxl's small kernel (Images/kernel/build), launch to first output"
if [ -n "${RUNXL_SMALL_KERNEL:-}" ] && [ -f "$RUNXL_SMALL_KERNEL" ]; then
  mkdir -p "$work/hello-small"
  python3 - "$work/hello/config.json" "$work/hello-small/config.json" "$RUNXL_SMALL_KERNEL" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("annotations", {})["org.runxl.kernel"] = sys.argv[3]
json.dump(config, open(sys.argv[2], "w"))
PY
  debian_t=(); small_t=()
  rx launch "$work/hello-small" >/dev/null 2>&1  # fills the cache
  for ((n = 1; n <= samples; n++)); do
    for bundle in hello hello-small; do
      start=$EPOCHREALTIME
      rm -f /tmp/bench-first
      timeout 300 "$runxl" --root "$root" launch "$work/$bundle" 2>/tmp/bench-kernel.err |
        { IFS= read -r line; at=$EPOCHREALTIME; [ "$line" = "$hello" ] && echo "$at" >/tmp/bench-first; cat >/dev/null; }
      if [ -f /tmp/bench-first ]; then
        t=$(elapsed "$start" "$(</tmp/bench-first)")
        if [ "$bundle" = hello ]; then debian_t+=("$t"); else small_t+=("$t"); fi
      else
        note "$bundle failed: $(tail -c 300 /tmp/bench-kernel.err)"
      fi
    done
  done
  figure "Debian kernel (extracted ELF), launch to first output, median of ${#debian_t[@]} (s)" "$(median "${debian_t[@]}")"
  figure "small kernel, launch to first output, median of ${#small_t[@]} (s)" "$(median "${small_t[@]}")"
  figure "ratio small/Debian kernel" "$(ratio "$(median "${small_t[@]}")" "$(median "${debian_t[@]}")")x"
  figure "kernel ELF sizes, Debian then small (bytes)" "$(stat -c %s "$RUNXL_LAB_KERNEL") $(stat -c %s "$RUNXL_SMALL_KERNEL")"
else
  note "no small kernel (build it with Images/kernel/build; Scripts/bench lab passes Images/kernel/out/vmlinux when it exists)"
fi

fi

# converted_variant FROM NAME KEY VALUE [KEY VALUE]...: bundle FROM with these annotations as
# bundle NAME, converted by runxl into /tmp/bench-NAME; sets `name` (its domain, a new one per
# variant so that xenconsoled's log holds this boot only) and `log` (that log, emptied).
converted_variant() {
  mkdir -p "$work/$2"
  python3 - "$work/$1/config.json" "$work/$2/config.json" "${@:3}" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
pairs = sys.argv[3:]
config.setdefault("annotations", {}).update(zip(pairs[0::2], pairs[1::2]))
json.dump(config, open(sys.argv[2], "w"))
PY
  rm -rf "/tmp/bench-$2"
  rx image convert "$work/$2" --output "/tmp/bench-$2" >"/tmp/bench-$2.log" 2>&1 || note "convert: $(tail -c 300 "/tmp/bench-$2.log")"
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "/tmp/bench-$2/xl.cfg" 2>/dev/null)
  log=/var/log/xen/console/guest-$name.log
  rm -f "$log"
}

# stamp TEXT: the kernel clock of the first line with TEXT in $log.
stamp() { grep -a -m1 "$1" "$log" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }
if wanted 7; then
echo "== 7. issue 17's levers: the kernel's boot timeline, PV against PVH, and a VM template's cost (xl save, then xl restore against a cold boot)"
# 7a: the hello guest with the kernel's clock on its console (printk.time), booted by xl create.
converted_variant hello hello-trace org.runxl.cmdline.extra "loglevel=7 printk.time=1"
if [ -n "$name" ] && xl create /tmp/bench-hello-trace/xl.cfg >/tmp/bench-hello-trace.log 2>&1; then
  for _ in $(seq 1 1200); do xl domid "$name" >/dev/null 2>&1 || break; nap 0.1; done
  xl destroy "$name" >/dev/null 2>&1
  figure "kernel clock at the TSC calibration's end (s)" "$(stamp 'tsc: Fast TSC calibration')"
  figure "kernel clock, p2m remap from-to (s)" "$(stamp 'p2m virtual area') $(stamp 'Remapped ')"
  figure "kernel clock, SMP alternatives from-to (s)" "$(stamp 'x87 FPU will use') $(stamp 'Freeing SMP alternatives')"
  figure "kernel clock at the initramfs unpack (s)" "$(stamp 'Trying to unpack rootfs')"
  figure "kernel clock when runxl-init runs (s)" "$(stamp 'Run /.runxl/init')"
else
  note "xl create of the traced guest: $(tail -c 300 /tmp/bench-hello-trace.log)"
fi

# 7b: the same guest as PVH (org.runxl.guest.type): no PV MMU, so none of PV's p2m remap or
# page-table hypercalls. xl create to the hello line, PV and PVH alternating after a warm-up
# each, then PVH's own kernel timeline.
converted_variant hello hello-pvh org.runxl.guest.type pvh
if [ -n "$name" ]; then
  xl_sample
  xl_sample /tmp/bench-hello-pvh/xl.cfg
  if [ -n "$SAMPLE" ]; then
    pv_boot_t=() pvh_boot_t=()
    for ((n = 1; n <= samples; n++)); do
      xl_sample
      [ -n "$SAMPLE" ] && pv_boot_t+=("$SAMPLE")
      xl_sample /tmp/bench-hello-pvh/xl.cfg
      [ -n "$SAMPLE" ] && pvh_boot_t+=("$SAMPLE")
    done
    figure "guest type: PV, xl create to the hello line, median of ${#pv_boot_t[@]} (s)" "$(median "${pv_boot_t[@]}")"
    figure "guest type: PVH, xl create to the hello line, median of ${#pvh_boot_t[@]} (s)" "$(median "${pvh_boot_t[@]}")"
    figure "guest type: PVH against PV" "$(ratio "$(median "${pvh_boot_t[@]}")" "$(median "${pv_boot_t[@]}")")"
  else
    note "the PVH guest printed no hello line: not compared"
  fi
fi
converted_variant hello hello-pvh-trace org.runxl.guest.type pvh org.runxl.cmdline.extra "loglevel=7 printk.time=1"
if [ -n "$name" ] && xl create /tmp/bench-hello-pvh-trace/xl.cfg >/tmp/bench-hello-pvh-trace.log 2>&1; then
  for _ in $(seq 1 1200); do xl domid "$name" >/dev/null 2>&1 || break; nap 0.1; done
  xl destroy "$name" >/dev/null 2>&1
  figure "PVH: kernel clock at the initramfs unpack (s)" "$(stamp 'Trying to unpack rootfs')"
  figure "PVH: kernel clock when runxl-init runs (s)" "$(stamp 'Run /.runxl/init')"
else
  note "xl create of the traced PVH guest: $(tail -c 300 /tmp/bench-hello-pvh-trace.log)"
fi

# 7c: the sleeper at 128 MiB booted by xl create to its ready line (a template's point: init
# and the process up), saved, then restored paused $samples times.
converted_variant sleeper sleeper-template org.runxl.memory 128
start=$EPOCHREALTIME
if [ -n "$name" ] && xl create /tmp/bench-sleeper-template/xl.cfg >/tmp/bench-sleeper-template.log 2>&1; then
  for _ in $(seq 1 1200); do file_has "$log" ready && break; nap 0.05; done
  figure "template: cold boot, xl create to the ready line (s)" "$(elapsed "$start" "$EPOCHREALTIME")"
  start=$EPOCHREALTIME
  if xl save "$name" /tmp/bench-template.save >/tmp/bench-sleeper-template.log 2>&1; then
    figure "template: xl save (s)" "$(elapsed "$start" "$EPOCHREALTIME")"
    figure "template: saved image (MiB)" "$(du -m /tmp/bench-template.save | cut -f1)"
    restore_t=()
    for ((n = 1; n <= samples; n++)); do
      start=$EPOCHREALTIME
      if xl restore -p /tmp/bench-template.save >/tmp/bench-sleeper-template.log 2>&1; then
        restore_t+=("$(elapsed "$start" "$EPOCHREALTIME")")
      else
        note "xl restore: $(tail -c 300 /tmp/bench-sleeper-template.log)"
      fi
      xl destroy "$name" >/dev/null 2>&1
    done
    figure "template: xl restore -p, median of ${#restore_t[@]} (s)" "$(median "${restore_t[@]}")"
  else
    note "xl save: $(tail -c 300 /tmp/bench-sleeper-template.log)"
    xl destroy "$name" >/dev/null 2>&1
  fi
  rm -f /tmp/bench-template.save
else
  note "xl create of the template guest: $(tail -c 300 /tmp/bench-sleeper-template.log)"
fi
fi

if wanted 7d; then
echo "== 7d. issue 17's kernel command-line levers: xl create of hello to its hello line, each variant beside the default, $samples rounds"
# Each is a word the guest kernel takes on its command line (org.runxl.cmdline.extra):
# mitigations=off (no speculative-execution workarounds patched in at boot), rodata=off (no
# read-only kernel data, so no W+X page-table walk at the end of the boot), cryptomgr.notests
# (no crypto self-tests), tsc=reliable (no clocksource watchdog), nokaslr.
# RUNXL_BENCH_LEVERS replaces the list: variants separated by ";" (a variant may hold spaces).
levers=("mitigations=off" "rodata=off" "cryptomgr.notests" "tsc=reliable" "nokaslr")
if [ -n "${RUNXL_BENCH_LEVERS:-}" ]; then IFS=';' read -r -a levers <<<"$RUNXL_BENCH_LEVERS"; fi
for ((i = 0; i < ${#levers[@]}; i++)); do
  converted_variant hello "hello-lever-$i" org.runxl.cmdline.extra "${levers[$i]}"
done
xl_sample; note "warm-up: ${SAMPLE:-failed} s"
declare -A lever_t=()
base_t=()
for ((n = 1; n <= samples; n++)); do
  xl_sample; [ -n "$SAMPLE" ] && base_t+=("$SAMPLE"); note "round $n default: ${SAMPLE:-failed} s"
  for ((i = 0; i < ${#levers[@]}; i++)); do
    xl_sample "/tmp/bench-hello-lever-$i/xl.cfg"
    [ -n "$SAMPLE" ] && lever_t[$i]="${lever_t[$i]:-} $SAMPLE"
    note "round $n ${levers[$i]}: ${SAMPLE:-failed} s"
  done
done
base=$(median "${base_t[@]}")
figure "cmdline lever: default, xl create to the hello line, median of ${#base_t[@]} (s)" "$base"
for ((i = 0; i < ${#levers[@]}; i++)); do
  # shellcheck disable=SC2086 # the samples are space-separated numbers
  lever=$(median ${lever_t[$i]:-})
  figure "cmdline lever: ${levers[$i]}, median (s)" "$lever"
  figure "cmdline lever: ${levers[$i]} against the default" "$(ratio "$lever" "$base")x"
done
fi

if wanted 6 || [[ " ${RUNXL_BENCH_SECTIONS:-} " =~ \ 6[a-f]\  ]]; then
. "$(dirname "${BASH_SOURCE[0]}")/shares-bench-in-dom0.sh"
fi

if wanted 8; then
. "$(dirname "${BASH_SOURCE[0]}")/warm-bench-in-dom0.sh"
fi

echo "== cleanup"
for name in $(xl list | awk 'NR > 2 { print $1 }'); do note "destroying leftover $name"; xl destroy "$name"; done
for dir in "$root"/*; do [ -e "$dir" ] && rx delete --force "$(basename "$dir")" 2>/dev/null; done
xl list
left=$(($(domain_count) - 1))
figure "domains left besides Domain-0" "$left"
[ "$left" = 0 ] && { ! wanted 1 || { [ "${#rx_times[@]}" -ge 5 ] && [ "${#xl_times[@]}" -ge 5 ]; }; }
