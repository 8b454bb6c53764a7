#!/usr/bin/env bash
# Runs inside the lab's dom0 (started by `Scripts/bench unikernel`): the test unikernel against a
# busybox Linux container, both through `runxl launch IMAGE` (create to first output, medians),
# then density: N unikernel guests created one after another through create/start while all
# earlier ones keep running (each blocks in its `sleep` mode), with the creation time of each,
# and dom0 memory per running guest. Prints "FIGURE name: value" lines.
# Env: RUNXL_BINARY, RUNXL_LAB_WORK (fixtures from make-fixtures.sh), RUNXL_BENCH_SAMPLES
# (default 5), RUNXL_UK_GUESTS (default 50), RUNXL_UK_MEMORY (MiB per guest, default 8).
set -uo pipefail
runxl=$RUNXL_BINARY
work=$RUNXL_LAB_WORK
samples=${RUNXL_BENCH_SAMPLES:-5}
guests=${RUNXL_UK_GUESTS:-50}
guest_memory=${RUNXL_UK_MEMORY:-8}
root=/run/runxl-uk-bench
store=/var/tmp/runxl-uk-bench-store
kernels=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/Images/unikernels/out
export RUNXL_INIT

mkdir -p /etc/runxl /var/lib/runxl "$root"
cat >/etc/runxl/config.json <<JSON
{"kernel": "$RUNXL_LAB_KERNEL", "cacheDir": "/var/lib/runxl/cache"}
JSON
figure() { echo "FIGURE $1: $2"; }
rx() { "$runxl" --root "$root" --store "$store" "$@"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# file_has FILE TEXT with builtins only (no fork per poll).
file_has() { local content=""; [ -f "$1" ] || return 1; IFS= read -r -d '' content <"$1"; [[ $content == *"$2"* ]]; }
# A sleep without a fork: a read with a timeout on a FIFO nobody writes to.
mkfifo /tmp/uk-bench-nap 2>/dev/null
exec {nap}<>/tmp/uk-bench-nap
nap() { read -r -t "$1" -u "$nap" _; }
wait_file() { local i; for ((i = 0; i < $3 * 50; i++)); do file_has "$1" "$2" && return 0; nap 0.02; done; return 1; }
used_kib() { awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { print t - a }' /proc/meminfo; }
# rss_kib NAME...: summed VmRSS of the processes with these command names.
rss_kib() {
  local total=0 status name rss
  for status in /proc/[0-9]*/status; do
    name="" rss=0
    while read -r key value _; do
      case $key in Name:) name=$value ;; VmRSS:) rss=$value ;; esac
    done <"$status" 2>/dev/null
    for wanted in "$@"; do [ "$name" = "$wanted" ] && total=$((total + rss)); done
  done
  echo "$total"
}
xen_free_mib() { xl info 2>/dev/null | awk '/^free_memory/ { print $3 }'; }

rm -rf "$store"
rx image import "$work/images/layout" --name busybox:lab -q >/dev/null || echo "import busybox failed"
rx image import "$work/unikernel-images/runxl-pv" --name uk-pv:lab -q >/dev/null || echo "import uk-pv failed"
rx image import "$work/unikernel-images/runxl-pvh" --name uk-pvh:lab -q >/dev/null || echo "import uk-pvh failed"

# first_output IMAGE ARGS...: seconds from launch to the first line on stdout.
first_output() {
  local start end
  start=$EPOCHREALTIME
  rx launch "$@" 2>/dev/null | { read -r _; end=$EPOCHREALTIME; elapsed "$start" "$end"; cat >/dev/null; }
}
echo "== create to first output: unikernel (PV, PVH) vs busybox Linux container, runxl launch IMAGE"
first_output uk-pv:lab -- hello >/dev/null; first_output uk-pvh:lab -- hello >/dev/null; first_output busybox:lab -- echo hello >/dev/null
pv=() pvh=() linux=()
for ((i = 0; i < samples; i++)); do
  pv+=("$(first_output uk-pv:lab -- hello)")
  pvh+=("$(first_output uk-pvh:lab -- hello)")
  linux+=("$(first_output busybox:lab -- echo hello)")
done
echo "  unikernel PV samples: ${pv[*]}"; echo "  unikernel PVH samples: ${pvh[*]}"; echo "  busybox Linux PV samples: ${linux[*]}"
figure "unikernel PV launch to first output, median of $samples (s)" "$(median "${pv[@]}")"
figure "unikernel PVH launch to first output, median of $samples (s)" "$(median "${pvh[@]}")"
figure "busybox Linux PV launch to first output, median of $samples (s)" "$(median "${linux[@]}")"

echo "== density: $guests unikernel guests ($guest_memory MiB each), created one by one while the others run"
bundle=/var/tmp/uk-bench-bundle
rm -rf "$bundle" && mkdir -p "$bundle/rootfs/boot" && cp "$kernels/pv.elf" "$bundle/rootfs/boot/kernel"
"$runxl" spec --bundle "$bundle"
/usr/bin/python3 - "$bundle/config.json" "$guest_memory" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["root"] = {"path": "rootfs", "readonly": True}
config["process"]["terminal"] = False
config["process"]["args"] = ["sleep"]
config["annotations"] = {"org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/kernel",
                         "org.runxl.memory": sys.argv[2]}
json.dump(config, open(sys.argv[1], "w"))
PY
sync; sleep 2
used_before=$(used_kib); daemons_before=$(rss_kib xenstored xenconsoled); xen_before=$(xen_free_mib)
# checkpoint N: dom0 memory per running guest so far, and the CPU time guest 1 has used (it
# sleeps in SCHEDOP_poll: a growing figure would mean the sleepers spin and slow the rest).
checkpoint() {
  local n=$1 used daemons supervisors xen cpu
  used=$(used_kib); daemons=$(rss_kib xenstored xenconsoled); supervisors=$(rss_kib runxl); xen=$(xen_free_mib)
  cpu=$(xl list runxl-uk1 2>/dev/null | awk 'NR == 2 { print $6 }')
  figure "with $n guests: dom0 memory used per guest (MemTotal-MemAvailable delta / N, KiB)" "$(per $((used - used_before)) "$n")"
  figure "with $n guests: runxl supervisors VmRSS per guest (KiB)" "$(per "$supervisors" "$n")"
  figure "with $n guests: xenstored+xenconsoled VmRSS growth per guest (KiB)" "$(per $((daemons - daemons_before)) "$n")"
  figure "with $n guests: Xen memory per guest (MiB)" "$(awk -v a="$xen_before" -v b="$xen" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')"
  figure "with $n guests: CPU time used so far by guest 1 (s)" "${cpu:-gone}"
  figure "with $n guests: CPU time of all unikernel guests, of dom0 (s)" "$(xl list | awk 'NR > 1 && $1 ~ /^runxl-uk/ { u += $6 } $1 == "Domain-0" { d = $6 } END { printf "%.1f, %.1f", u, d }')"
  echo "  guest 1 says: $(tr '\n' '|' </tmp/uk-bench-1.out)"
  echo "  load: $(cat /proc/loadavg); busiest in dom0: $(ps -eo pcpu=,comm= --sort=-pcpu | head -4 | tr -s ' ' | paste -sd, -)"
}
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }
budget=${RUNXL_UK_BUDGET:-900}
began=$SECONDS
creates=() firsts=()
made=0
for ((i = 1; i <= guests; i++)); do
  if ((SECONDS - began > budget)); then
    echo "  stopping after $made guests: the ${budget}s budget is spent (RUNXL_UK_BUDGET)"
    break
  fi
  out=/tmp/uk-bench-$i.out
  rm -f "$out"
  start=$EPOCHREALTIME
  rx create --bundle "$bundle" "uk$i" >"$out" 2>&1 </dev/null &
  wait $!
  created=$EPOCHREALTIME
  rx start "uk$i"
  wait_file "$out" sleeping 120 || echo "  uk$i printed nothing: $(tail -c 200 "$out")"
  first=$EPOCHREALTIME
  made=$i
  creates+=("$(elapsed "$start" "$created")"); firsts+=("$(elapsed "$start" "$first")")
  echo "  guest $i: create $(elapsed "$start" "$created") s, create+start to first output $(elapsed "$start" "$first") s"
  case $i in 1 | 10 | 25 | 50) sleep 1; checkpoint "$i" ;; esac
done
sleep 2
running=$(xl list | awk 'NR > 1 && $1 ~ /^runxl-uk[0-9]+$/' | wc -l)
figure "unikernel guests running at the end (of $made created)" "$running"
figure "first unikernel guest still running after the last was created" "$(xl list runxl-uk1 >/dev/null 2>&1 && echo yes || echo no)"
figure "runxl create of the 1st unikernel guest (s)" "${creates[0]}"
figure "runxl create of the ${made}th unikernel guest (s)" "${creates[$((made - 1))]}"
figure "create+start to first output, 1st guest (s)" "${firsts[0]}"
figure "create+start to first output, ${made}th guest (s)" "${firsts[$((made - 1))]}"
figure "runxl create, median of the first 5 guests (s)" "$(median "${creates[@]:0:5}")"
figure "runxl create, median of the last 5 guests (s)" "$(median "${creates[@]: -5}")"
checkpoint "$made"
guests=$made

echo "== cleanup: kill TERM (clean shutdown) every guest"
start=$EPOCHREALTIME
for ((i = 1; i <= guests; i++)); do rx kill "uk$i" TERM 2>/dev/null; done
for ((i = 0; i < 600; i++)); do [ "$(xl list | awk 'NR > 1 && $1 ~ /^runxl-uk/' | wc -l)" = 0 ] && break; sleep 0.2; done
figure "kill TERM of all $guests guests until none is left (s)" "$(elapsed "$start" "$EPOCHREALTIME")"
clean=0
for ((i = 1; i <= guests; i++)); do file_has "/tmp/uk-bench-$i.out" "control/shutdown: poweroff" && clean=$((clean + 1)); rx delete --force "uk$i" 2>/dev/null; done
figure "guests that saw the shutdown request" "$clean"
echo "unikernel bench done"
