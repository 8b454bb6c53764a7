#!/usr/bin/env bash
# Section 6 of Tests/lab/bench-in-dom0.sh (sourced there: figure, median, ratio, elapsed, nap,
# file_has, alive, hwm, rx, $work = dom0-local copies): share mode (rootfs and binds over Xen
# 9pfs) against initramfs mode and runc, in the same boot. RUNXL_BENCH_GUESTS (default 50) is
# how many share-mode guests 6e keeps running at once.

# RUNXL_BENCH_SECTIONS may name sub-sections ("6e 6f"); "6" or nothing runs them all.
wanted6() { [ -z "${RUNXL_BENCH_SECTIONS:-}" ] || [[ " $RUNXL_BENCH_SECTIONS " == *" 6 "* ]] || [[ " $RUNXL_BENCH_SECTIONS " == *" 6$1 "* ]]; }

# A bundle NAME around ROOTFS with ARGS (JSON), in MODE (share|initramfs), optional MOUNTS (JSON).
share_bundle() {
  mkdir -p "$work/$1"
  "$runxl" spec --bundle "$work/$1"
  /usr/bin/python3 - "$work/$1/config.json" "$2" "$3" "$4" "${5:-[]}" <<'PY'
import json, sys
path, rootfs, args, mode, mounts = sys.argv[1:6]
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": False}
config["process"]["terminal"] = False
config["process"]["args"] = json.loads(args)
config["mounts"] = config.get("mounts", []) + json.loads(mounts)
config["annotations"] = {"org.runxl.rootfs": mode}
json.dump(config, open(path, "w"), indent=1)
PY
}

# launch_first BUNDLE TEXT: sets SAMPLE to the seconds from `runxl launch` to the line TEXT.
launch_first() {
  local start=$EPOCHREALTIME
  SAMPLE=""
  rm -f /tmp/bench-first
  timeout 300 "$runxl" --root "$root" launch "$1" 2>/tmp/bench-rx.err |
    { while IFS= read -r line; do [ "$line" = "$2" ] && { echo "$EPOCHREALTIME" >/tmp/bench-first; break; }; done; cat >/dev/null; }
  [ -f /tmp/bench-first ] && SAMPLE=$(elapsed "$start" "$(</tmp/bench-first)") || note "launch $1 failed: $(tail -c 300 /tmp/bench-rx.err)"
}

if wanted6 a; then
echo "== 6a. runxl launch to first output: share mode vs initramfs mode (busybox, $samples alternating samples)"
share_bundle hello-share "$work/busybox-rootfs" '["echo", "hello from a Xen guest"]' share
share_bundle hello-initramfs "$work/busybox-rootfs" '["echo", "hello from a Xen guest"]' initramfs
launch_first "$work/hello-share" "$hello"; note "warm-up share: ${SAMPLE:-failed} s"
launch_first "$work/hello-initramfs" "$hello"; note "warm-up initramfs: ${SAMPLE:-failed} s"
share_t=(); initramfs_t=()
for ((n = 1; n <= samples; n++)); do
  if ((n % 2)); then order="share initramfs"; else order="initramfs share"; fi
  for mode in $order; do
    launch_first "$work/hello-$mode" "$hello"
    [ -n "$SAMPLE" ] && { [ "$mode" = share ] && share_t+=("$SAMPLE") || initramfs_t+=("$SAMPLE"); }
  done
done
figure "6a launch to first output, share mode, median of ${#share_t[@]} (s)" "$(median "${share_t[@]}")"
figure "6a launch to first output, initramfs mode, median of ${#initramfs_t[@]} (s)" "$(median "${initramfs_t[@]}")"
figure "6a ratio share/initramfs" "$(ratio "$(median "${share_t[@]}")" "$(median "${initramfs_t[@]}")")x"

fi

if wanted6 b; then
echo "== 6b. podman run --rm IMG echo to first output: share, initramfs, runc ($samples samples each, rotating)"
# podman-setup.sh reports through pass/fail, which the benchmark only prints.
declare -F pass >/dev/null || { pass() { echo "  ok: $*"; }; fail() { echo "  FAILED: $*"; }; }
# podman-setup.sh loads the image from the lab's share ($work is the bench's local copy here).
bench_work=$work
work=$RUNXL_LAB_WORK
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
work=$bench_work
podman_first runxl; podman_first runc
pm_share=(); pm_initramfs=(); pm_runc=()
for ((n = 1; n <= samples; n++)); do
  for side in share initramfs runc; do
    case $side in
      share) podman_first runxl; [ -n "$SAMPLE" ] && pm_share+=("$SAMPLE") ;;
      initramfs) podman_first runxl --annotation org.runxl.rootfs=initramfs; [ -n "$SAMPLE" ] && pm_initramfs+=("$SAMPLE") ;;
      runc) podman_first runc; [ -n "$SAMPLE" ] && pm_runc+=("$SAMPLE") ;;
    esac
  done
done
figure "6b podman run to first output, runxl share, median of ${#pm_share[@]} (s)" "$(median "${pm_share[@]}")"
figure "6b podman run to first output, runxl initramfs, median of ${#pm_initramfs[@]} (s)" "$(median "${pm_initramfs[@]}")"
figure "6b podman run to first output, runc, median of ${#pm_runc[@]} (s)" "$(median "${pm_runc[@]}")"
figure "6b ratio share/runc" "$(ratio "$(median "${pm_share[@]}")" "$(median "${pm_runc[@]}")")x"
figure "6b ratio initramfs/runc" "$(ratio "$(median "${pm_initramfs[@]}")" "$(median "${pm_runc[@]}")")x"

fi

if wanted6 c; then
echo "== 6c. create time by image size: busybox, Debian minbase, busybox + 1 GiB of files; share vs initramfs"
# The 1 GiB image: busybox and 64 files of 16 MiB, sparse (dom0 has no RAM to spare for them;
# initramfs mode reads every byte all the same).
rm -rf "$work/gig-rootfs" && cp -a "$work/busybox-rootfs" "$work/gig-rootfs" && mkdir -p "$work/gig-rootfs/data"
for ((i = 0; i < 64; i++)); do truncate -s 16M "$work/gig-rootfs/data/blob-$i"; done
images="busybox:$work/busybox-rootfs gig:$work/gig-rootfs"
# minbase too from dom0's own file system, as a Xen host keeps its images.
if [ -d "$RUNXL_LAB_WORK/minbase/rootfs" ] && cp -a "$RUNXL_LAB_WORK/minbase/rootfs" "$work/minbase-rootfs"; then
  images="busybox:$work/busybox-rootfs minbase:$work/minbase-rootfs gig:$work/gig-rootfs"
fi
for entry in $images; do
  name=${entry%%:*}
  for mode in share initramfs; do
    # initramfs mode copies the whole image into guest RAM: the 1 GiB one cannot fit 3 GiB of Xen memory next to dom0.
    [ "$mode" = initramfs ] && [ "$name" = gig ] && { figure "6c create, $name, initramfs (s)" "not run: the image must fit in guest RAM"; continue; }
    share_bundle "create-$name-$mode" "${entry#*:}" '["true"]' "$mode"
    times=()
    for ((n = 1; n <= 3; n++)); do
      # The first create of an initramfs fills its cache: every sample counts, as a user meets them.
      [ "$mode" = initramfs ] && rm -rf /var/lib/runxl/cache/initramfs
      t0=$EPOCHREALTIME
      if timeout 600 "$runxl" --root "$root" create --bundle "$work/create-$name-$mode" "c-$name-$mode" </dev/null >/dev/null 2>/tmp/bench-c.err; then
        times+=("$(elapsed "$t0" "$EPOCHREALTIME")")
      else
        note "create $name $mode: $(tail -c 300 /tmp/bench-c.err)"
      fi
      rx delete --force "c-$name-$mode" 2>/dev/null
    done
    figure "6c create, $name, $mode, uncached initramfs in initramfs mode, median of ${#times[@]} (s)" "$(median "${times[@]}")"
  done
done
rm -rf "$work/gig-rootfs" "$work/minbase-rootfs"

fi

if wanted6 d; then
echo "== 6d. file throughput in the guest: 256 MiB write and read, untar + find; 9p rootfs and 9p volume vs runc in dom0"
rm -rf "$work/tp-rootfs" "$work/tp-volume" && cp -a "$work/busybox-rootfs" "$work/tp-rootfs" && mkdir -p "$work/tp-volume"
tar -C "$work/busybox-rootfs" -cf "$work/tp-rootfs/tree.tar" .
# Times with the shell's clock: dd's and tar's own stats differ between busybox and GNU.
job='t() { s=$(cut -d" " -f1 /proc/uptime); "$@" >/dev/null 2>&1; e=$(cut -d" " -f1 /proc/uptime); echo "$e $s" | awk "{ printf \"%.2f\", \$1 - \$2 }"; }
for dir in /tp /data; do
  w=$(t dd if=/dev/zero of=$dir/big bs=1M count=256 conv=fsync)
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
  r=$(t dd if=$dir/big of=/dev/null bs=1M)
  rm -f $dir/big; mkdir -p $dir/untar
  u=$(t tar -C $dir/untar -xf /tree.tar)
  f=$(t find $dir/untar)
  rm -rf $dir/untar
  echo "$dir write=$w read=$r untar=$u find=$f"
done'
share_bundle tp-share "$work/tp-rootfs" "$(python3 -c 'import json,sys; print(json.dumps(["sh", "-c", "mkdir -p /tp; " + sys.argv[1]]))' "$job")" share \
  "[{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$work/tp-volume\", \"options\": [\"rbind\", \"rw\"]}]"
timeout 900 "$runxl" --root "$root" launch "$work/tp-share" >/tmp/bench-tp.out 2>/tmp/bench-tp.err || note "throughput guest: $(tail -c 300 /tmp/bench-tp.err)"
# The same job with runc in dom0, on the same directories.
mkdir -p "$work/tp-runc" && cp "$work/tp-share/config.json" "$work/tp-runc/config.json"
timeout 900 runc --root /run/runc-bench run --bundle "$work/tp-runc" tp-runc >/tmp/bench-tp-runc.out 2>/tmp/bench-tp-runc.err </dev/null || note "runc job: $(tail -c 300 /tmp/bench-tp-runc.err)"
while read -r dir rest; do figure "6d runxl share, $dir (rootfs /tp, volume /data), seconds" "$rest"; done </tmp/bench-tp.out
while read -r dir rest; do figure "6d runc in dom0, $dir, seconds" "$rest"; done </tmp/bench-tp-runc.out
rm -rf "$work/tp-rootfs" "$work/tp-volume" "$work/tp-runc"

fi

if wanted6 e; then
echo "== 6e. ${RUNXL_BENCH_GUESTS:-50} share-mode guests running at once: create time 1st vs last, dom0 memory per guest"
guests=${RUNXL_BENCH_GUESTS:-50}
share_bundle idle-share "$work/busybox-rootfs" '["sleep", "3600"]' share
python3 - "$work/idle-share/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
# 128 MiB: at 80 MiB (above runxl's own estimate of 79) Xen's PV builder already refused the
# init + modules initramfs ("segment module0 too large").
config["annotations"]["org.runxl.memory"] = "128"
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
mem_before=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
create_times=(); made=0
# Bounded in time as well (RUNXL_BENCH_GUESTS_SECONDS, default 900): the figure is then for as
# many guests as were made, which the first figure line says.
guests_deadline=$(awk -v now="$EPOCHREALTIME" -v budget="${RUNXL_BENCH_GUESTS_SECONDS:-900}" 'BEGIN { printf "%d", now + budget }')
for ((n = 1; n <= guests; n++)); do
  [ "${EPOCHREALTIME%.*}" -lt "$guests_deadline" ] || { note "stopped at $made guests: time budget spent"; break; }
  t0=$EPOCHREALTIME
  if timeout 300 "$runxl" --root "$root" run --detach --bundle "$work/idle-share" "idle-$n" </dev/null >/dev/null 2>/tmp/bench-idle.err; then
    create_times+=("$(elapsed "$t0" "$EPOCHREALTIME")"); made=$n
  else
    note "guest $n: $(tail -c 300 /tmp/bench-idle.err)"; rx delete --force "idle-$n" 2>/dev/null; break
  fi
done
mem_after=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
backend_rss=0; for pid in $(pgrep -f "xen-qemu-system-i386.*-xen-domid"); do backend_rss=$((backend_rss + $(awk '/VmRSS/ { print $2 }' /proc/$pid/status))); done
super_rss=0; for pid in $(pgrep -f -- "--root $root .*supervise"); do super_rss=$((super_rss + $(awk '/VmRSS/ { print $2 }' /proc/$pid/status))); done
figure "6e guests running at once (of $guests asked)" "$made"
figure "6e run --detach, 1st guest (s)" "${create_times[0]:-n/a}"
figure "6e run --detach, last guest (s)" "${create_times[-1]:-n/a}"
figure "6e ratio last/1st" "$(ratio "${create_times[-1]:-0}" "${create_times[0]:-0}")x"
figure "6e dom0 MemAvailable drop per guest (MiB)" "$(awk -v a="$mem_before" -v b="$mem_after" -v n="$made" 'BEGIN { if (n) printf "%.1f", (a - b) / n / 1024 }')"
figure "6e 9pfs backend (QEMU) RSS per guest (MiB)" "$(awk -v a="$backend_rss" -v n="$made" 'BEGIN { if (n) printf "%.1f", a / n / 1024 }')"
figure "6e supervisor RSS per guest (MiB)" "$(awk -v a="$super_rss" -v n="$made" 'BEGIN { if (n) printf "%.1f", a / n / 1024 }')"
for ((n = 1; n <= made; n++)); do rx delete --force "idle-$n" 2>/dev/null; done

fi

if wanted6 f; then
echo "== 6f. bind shape: staging (binds mounted on the host into the one control share) vs one share per source"
# Staging is what runxl does: launch to first output with 0 and 8 directory binds shows what a
# bind costs end to end (host mount, guest mount). One share per source would add a p9 device
# per bind: xl create of runxl's own guest with 8 extra p9 devices (connected by the guest's
# frontend, not mounted) against none gives that device's cost, a floor for the per-source shape.
mkdir -p "$work/f-src"
binds='['
for ((i = 0; i < 8; i++)); do
  mkdir -p "$work/f-src/$i"; echo "$i" >"$work/f-src/$i/file"
  binds+="{\"destination\": \"/mnt/b$i\", \"type\": \"bind\", \"source\": \"$work/f-src/$i\", \"options\": [\"rbind\", \"rw\"]}"
  ((i < 7)) && binds+=', '
done
binds+=']'
share_bundle f-binds-0 "$work/busybox-rootfs" '["echo", "hello from a Xen guest"]' share
share_bundle f-binds-8 "$work/busybox-rootfs" '["echo", "hello from a Xen guest"]' share "$binds"
staged_0=(); staged_8=()
for ((n = 1; n <= samples; n++)); do
  launch_first "$work/f-binds-0" "$hello"; [ -n "$SAMPLE" ] && staged_0+=("$SAMPLE")
  launch_first "$work/f-binds-8" "$hello"; [ -n "$SAMPLE" ] && staged_8+=("$SAMPLE")
done
figure "6f staging, launch to first output, 0 binds, median of ${#staged_0[@]} (s)" "$(median "${staged_0[@]}")"
figure "6f staging, launch to first output, 8 directory binds, median of ${#staged_8[@]} (s)" "$(median "${staged_8[@]}")"
figure "6f staging, cost per bind (s)" "$(awk -v a="$(median "${staged_8[@]}")" -v b="$(median "${staged_0[@]}")" 'BEGIN { printf "%.3f", (a - b) / 8 }')"

# runxl's own share-mode guest, booted by xl: kernel, initramfs and command line from the created
# domain, the control share copied out of the container's state before it is deleted.
rm -rf /tmp/f-control && rx delete --force f-shape 2>/dev/null
if rx create --bundle "$work/f-binds-0" f-shape </dev/null >/dev/null 2>/tmp/bench-f.err; then
  cp -a "$root/f-shape/share/control" /tmp/f-control
  xl list -l >/tmp/f-domains.json
  rx delete --force f-shape
  for extra in 0 8; do
    /usr/bin/python3 - /tmp/f-domains.json "$work/busybox-rootfs" /tmp/f-control "$extra" "$work/f-src" >/tmp/f-xl-$extra.cfg <<'PY' || note "cannot write the xl.cfg: see above"
import json, sys
domains, rootfs, control, extra, sources = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
config = next(d["config"] for d in json.load(open(domains)) if d["config"]["c_info"]["name"] != "Domain-0")
info, build = config["c_info"], config["b_info"]
typed = build.get("type.pv") or build.get("type.pvh") or {}
def q(text): return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
kernel = build.get("kernel") or typed.get("kernel")
ramdisk = build.get("ramdisk") or typed.get("ramdisk")
cmdline = build.get("cmdline") or typed.get("cmdline") or ""
print(f"type = {q(info.get('type', 'pv'))}")
print(f"memory = {build['target_memkb'] // 1024}")
print(f"vcpus = {build.get('max_vcpus', 1)}")
print(f"kernel = {q(kernel)}\nramdisk = {q(ramdisk)}\nextra = {q(cmdline)}")
shares = [f"tag=runxl-root,path={rootfs},security_model=none", f"tag=runxl-control,path={control},security_model=none"]
shares += [f"tag=extra-{i},path={sources}/{i},security_model=none" for i in range(extra)]
print("p9 = [ " + ", ".join(q(s) for s in shares) + " ]")
PY
  done
  sed 's/^/  /' /tmp/f-xl-8.cfg
  p9_0=(); p9_8=()
  for ((n = 1; n <= samples; n++)); do
    for extra in 0 8; do
      xl_count=$((xl_count + 1)); name=bench-p9-$xl_count; log=/var/log/xen/console/guest-$name.log
      start=$EPOCHREALTIME; end=""
      if xl create /tmp/f-xl-$extra.cfg "name=\"$name\"" >/tmp/bench-xl.log 2>&1; then
        for ((i = 1; i <= 15000; i++)); do
          file_has "$log" "$hello" && { end=$EPOCHREALTIME; break; }
          ((i % 100 == 0)) && ! xl domid "$name" >/dev/null 2>&1 && break
          nap 0.02
        done
        wait_domain_gone "$name" 60
      else
        note "xl create ($extra extra p9) failed: $(tail -c 300 /tmp/bench-xl.log)"
      fi
      if [ -n "$end" ]; then
        [ "$extra" = 0 ] && p9_0+=("$(elapsed "$start" "$end")") || p9_8+=("$(elapsed "$start" "$end")")
      else
        note "xl guest $name ($extra extra p9) printed nothing: $(tail -c 300 "$log" 2>/dev/null)"
      fi
    done
  done
  figure "6f per source, xl create to first output, root + control shares, median of ${#p9_0[@]} (s)" "$(median "${p9_0[@]}")"
  figure "6f per source, xl create to first output, 8 more p9 devices, median of ${#p9_8[@]} (s)" "$(median "${p9_8[@]}")"
  figure "6f per source, cost per extra p9 device (s)" "$(awk -v a="$(median "${p9_8[@]}")" -v b="$(median "${p9_0[@]}")" 'BEGIN { printf "%.3f", (a - b) / 8 }')"
else
  note "create for the per-source shape failed: $(tail -c 300 /tmp/bench-f.err)"
fi
rm -rf /tmp/f-control "$work/f-src"
fi
