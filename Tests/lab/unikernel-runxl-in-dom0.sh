#!/usr/bin/env bash
# The test unikernels (Images/unikernels, packaged by Tests/images/make-unikernel-images.sh)
# through runxl on a real Xen, inside the lab's dom0: runxl launch of PV and PVH images in each
# packaging convention (output, arguments, exit status from xenstore, crash, SIGTERM as a clean
# shutdown), image convert + xl create, the OCI verbs create/start/kill/delete on a unikernel
# bundle, and bad input refused before any domain exists. PASS/FAIL lines; exits non-zero on a
# failure. Run by Tests/lab/in-dom0.sh (RUNXL_BINARY, RUNXL_LAB_WORK from Scripts/lab-tests;
# make-fixtures.sh puts the images in $RUNXL_LAB_WORK/unikernel-images).
set -uo pipefail
runxl=$RUNXL_BINARY
work=$RUNXL_LAB_WORK
images=$work/unikernel-images
kernels=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/Images/unikernels/out
root=/run/runxl-uk-lab
store=/var/tmp/runxl-uk-store
failures=0
# The lines lab-common.sh's pass and fail print, on the clock of the run that started this one
# (in-dom0.sh counts them into its summary).
pass() { echo "PASS: unikernel: $* [$((${lab_clock_offset:-0} + SECONDS)) s]"; }
fail() { echo "FAIL: unikernel: $* [$((${lab_clock_offset:-0} + SECONDS)) s]"; failures=$((failures + 1)); }
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
contains() { if grep -aqF -- "$2" "$3"; then pass "$1"; else fail "$1: no [$2] in: $(tr '\n' '|' <"$3" | tail -c 400)"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
rx() { "$runxl" --root "$root" --store "$store" "$@"; }
no_domains() { [ "$(xl list | tail -n +2 | wc -l)" = 1 ] && [ -z "$(ls -A "$root" 2>/dev/null)" ]; }
# wait_for FILE TEXT SECONDS
wait_for() { local i; for ((i = 0; i < $3 * 10; i++)); do grep -aqF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

rm -rf "$store" "$root"
mkdir -p "$root"
for name in runxl-pv runxl-pvh urunc-pv urunc-pvh uruncjson-pv; do
  rx image import "$images/$name" --name "$name:lab" -q >/dev/null 2>/tmp/uk.err || fail "import $name: $(cat /tmp/uk.err)"
done
rx image import "$images/kraftkit-pv" --name kraftkit-pv:lab --platform xen/x86_64 -q >/dev/null 2>/tmp/uk.err \
  || fail "import kraftkit-pv: $(cat /tmp/uk.err)"

echo "== unikernel: runxl launch IMAGE, PV and PVH: output, arguments, exit status"
for type in pv pvh; do
  start=$(now)
  rx launch "runxl-$type:lab" -- hello a b exit=3 >/tmp/uk.out 2>/tmp/uk.err
  status=$?
  echo "FIGURE unikernel launch $type whole run (s): $(since "$start")"
  expect "launch $type exit status from data/runxl/exit" 3 "$status"
  expect "launch $type output" "$(printf '%s\n' "unikernel $type: cmdline \"hello a b exit=3\"" "arg 0: hello" "arg 1: a" \
    "arg 2: b" "arg 3: exit=3" "exit: wrote data/runxl/exit = exited:3" poweroff)" "$(tr -d '\r' </tmp/uk.out)"
  rx launch "runxl-$type:lab" -- crash now >/tmp/uk.out 2>/tmp/uk.err
  expect "launch $type crash exit status (documented 134)" 134 "$?"
  contains "launch $type crash output" "arg 1: now" /tmp/uk.out
  contains "launch $type crash: stderr says why" "the unikernel crashed" /tmp/uk.err
  rx launch "runxl-$type:lab" >/tmp/uk.out 2>/tmp/uk.err
  expect "launch $type poweroff without exit key" 0 "$?"
  contains "launch $type image Cmd as arguments" 'cmdline "hello"' /tmp/uk.out
  no_domains && pass "launch $type leaves nothing" || fail "launch $type left: $(xl list; ls -A $root)"
done

echo "== unikernel: the other conventions"
rx launch urunc-pvh:lab -- urunc exit=5 >/tmp/uk.out 2>/tmp/uk.err
expect "urunc annotations (PVH) exit status" 5 "$?"
contains "urunc annotations output" 'cmdline "urunc exit=5"' /tmp/uk.out
rx launch uruncjson-pv:lab >/tmp/uk.out 2>/tmp/uk.err
expect "urunc.json exit status" 0 "$?"
contains "urunc.json output" 'unikernel pv: cmdline "hello"' /tmp/uk.out
rx launch kraftkit-pv:lab -- k exit=9 >/tmp/uk.out 2>/tmp/uk.err
expect "kraftkit layout exit status" 9 "$?"
contains "kraftkit: Unikraft command line (env.vars, --, args)" '-- k exit=9"' /tmp/uk.out
no_domains && pass "conventions leave nothing" || fail "conventions left: $(xl list; ls -A $root)"

echo "== unikernel: SIGTERM through runxl kill is a clean shutdown (control/shutdown)"
for type in pv pvh; do
  "$runxl" --root "$root" --store "$store" launch --name "uk-term-$type" "runxl-$type:lab" -- sleep >/tmp/uk-term.out 2>/tmp/uk-term.err &
  launcher=$!
  wait_for /tmp/uk-term.out sleeping 120 && pass "$type sleeper is up" || fail "$type sleeper never slept: $(cat /tmp/uk-term.err)"
  # A sleeper blocks in SCHEDOP_poll: over 3 s it must use next to no CPU.
  cpu_before=$(xl list "runxl-uk-term-$type" | awk 'NR == 2 { print $6 }')
  sleep 3
  cpu_after=$(xl list "runxl-uk-term-$type" | awk 'NR == 2 { print $6 }')
  awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { exit !(b - a < 0.5) }' && pass "$type sleeper does not spin ($cpu_before -> $cpu_after s CPU)" \
    || fail "$type sleeper spins: $cpu_before -> $cpu_after s CPU in 3 s"
  start=$(now)
  rx kill "uk-term-$type" TERM 2>/tmp/uk.err || fail "kill TERM: $(cat /tmp/uk.err)"
  wait "$launcher"
  status=$?
  echo "FIGURE unikernel $type kill TERM to exit (s): $(since "$start")"
  expect "$type SIGTERM exit status (clean poweroff)" 0 "$status"
  contains "$type saw the shutdown request" "control/shutdown: poweroff" /tmp/uk-term.out
  no_domains && pass "$type SIGTERM leaves nothing" || fail "$type SIGTERM left: $(xl list; ls -A $root)"
done

echo "== unikernel: a reboot it was not asked for ends with status 1 and says why"
# runxl never asks for a reboot; a guest's own (Unikraft's exit(1), a PVH triple fault) is
# not a clean end. The sleeper obeys whatever control/shutdown says, so written by hand here.
"$runxl" --root "$root" --store "$store" launch --name uk-reboot runxl-pv:lab -- sleep >/tmp/uk-reboot.out 2>/tmp/uk-reboot.err &
launcher=$!
wait_for /tmp/uk-reboot.out sleeping 120 || fail "reboot: the sleeper never slept: $(cat /tmp/uk-reboot.err)"
xenstore-write "/local/domain/$(xl domid runxl-uk-reboot)/control/shutdown" reboot
wait "$launcher"
expect "a unikernel's own reboot: exit status 1" 1 "$?"
contains "a unikernel's own reboot: stderr says why" "the unikernel rebooted" /tmp/uk-reboot.err
no_domains && pass "a rebooted unikernel leaves nothing" || fail "reboot left: $(xl list; ls -A $root)"

echo "== unikernel: image convert + xl create"
for type in pv pvh; do
  rm -rf "/tmp/uk-conv-$type"
  rx image convert "runxl-$type:lab" --output "/tmp/uk-conv-$type" --name "uk-conv-$type" >/tmp/uk.out 2>&1
  expect "image convert $type exit status" 0 "$?"
  grep -q "^kernel = \"/tmp/uk-conv-$type/kernel\"" "/tmp/uk-conv-$type/xl.cfg" && pass "xl.cfg names the kernel" || fail "xl.cfg: $(cat /tmp/uk-conv-$type/xl.cfg)"
  log=/var/log/xen/console/guest-uk-conv-$type.log
  xl create "/tmp/uk-conv-$type/xl.cfg" >/tmp/uk.xl 2>&1 || fail "xl create $type: $(cat /tmp/uk.xl)"
  wait_for "$log" poweroff 120
  contains "xl create of the converted $type unikernel" 'cmdline "hello"' "$log"
  for _ in $(seq 1 100); do xl domid "uk-conv-$type" >/dev/null 2>&1 || break; sleep 0.1; done
  xl destroy "uk-conv-$type" >/dev/null 2>&1
done

echo "== unikernel: OCI create / start / kill / delete on a bundle"
bundle=/var/tmp/uk-bundle
rm -rf "$bundle" && mkdir -p "$bundle/rootfs/boot"
cp "$kernels/pvh.elf" "$bundle/rootfs/boot/kernel"
"$runxl" spec --bundle "$bundle"
/usr/bin/python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["root"] = {"path": "rootfs", "readonly": True}
config["process"]["terminal"] = False
config["process"]["args"] = ["oci", "sleep"]
config["annotations"] = {"org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/kernel"}
json.dump(config, open(path, "w"))
PY
rx create --bundle "$bundle" --pid-file /tmp/uk-oci.pid uk-oci >/tmp/uk-oci.out 2>/tmp/uk-oci.err &
wait $!
expect "create exit status" 0 "$?"
case "$(xl list runxl-uk-oci 2>/dev/null | awk 'NR==2 {print $5}')" in *p*) pass "created paused" ;; *) fail "not paused after create" ;; esac
supervisor=$(cat /tmp/uk-oci.pid)
rx start uk-oci
expect "start exit status" 0 "$?"
wait_for /tmp/uk-oci.out sleeping 120 && pass "output reaches create's stdout" || fail "no output: $(cat /tmp/uk-oci.err)"
grep -q "\"unikernel\":\"xen-elf\"" "$root/uk-oci/state.json" && pass "the record says unikernel" || fail "record: $(cat $root/uk-oci/state.json)"
rx kill uk-oci USR1 2>/tmp/uk.err
expect "kill USR1 refused" 1 "$?"
rx kill uk-oci TERM
for _ in $(seq 1 200); do kill -0 "$supervisor" 2>/dev/null || break; sleep 0.1; done
kill -0 "$supervisor" 2>/dev/null && fail "supervisor alive after TERM" || pass "supervisor ends after TERM"
expect "state stopped" stopped "$(rx state uk-oci | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')"
contains "OCI: shutdown request seen" "control/shutdown: poweroff" /tmp/uk-oci.out
rx delete uk-oci
no_domains && pass "delete leaves nothing" || fail "after delete: $(xl list; ls -A $root)"
rx run --detach --bundle "$bundle" uk-victim >/dev/null 2>&1
rx kill uk-victim KILL
for _ in $(seq 1 40); do xl list runxl-uk-victim >/dev/null 2>&1 || break; sleep 0.25; done
xl list runxl-uk-victim >/dev/null 2>&1 && fail "KILL left the domain" || pass "KILL destroys the unikernel"
rx delete --force uk-victim
no_domains && pass "delete --force leaves nothing" || fail "after delete --force: $(xl list; ls -A $root)"

echo "== unikernel: bad input is refused before any domain exists"
# bad NAME EXPECTED_TEXT ANNOTATIONS_JSON [BINARY]
bad() {
  local name=$1 text=$2 annotations=$3 binary=${4:-$kernels/pv.elf}
  local dir=/var/tmp/uk-bad-$name
  rm -rf "$dir" && mkdir -p "$dir/rootfs/boot"
  cp "$binary" "$dir/rootfs/boot/kernel"
  "$runxl" spec --bundle "$dir"
  /usr/bin/python3 - "$dir/config.json" "$annotations" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["root"] = {"path": "rootfs", "readonly": True}
config["process"]["args"] = ["x"]
config["annotations"] = json.loads(sys.argv[2])
json.dump(config, open(sys.argv[1], "w"))
PY
  rx launch "$dir" >/tmp/uk.out 2>/tmp/uk.err
  expect "bad $name exit status" 1 "$?"
  contains "bad $name message" "$text" /tmp/uk.err
  no_domains && pass "bad $name leaves nothing" || fail "bad $name left: $(xl list; ls -A $root)"
}
bad type "not a unikernel type" '{"org.runxl.unikernel.type": "hermit", "org.runxl.unikernel.binary": "/boot/kernel"}'
bad hypervisor "Xen only" '{"com.urunc.unikernel.unikernelType": "unikraft", "com.urunc.unikernel.hypervisor": "qemu", "com.urunc.unikernel.binary": "/boot/kernel"}'
bad binary "is not a file in the rootfs" '{"org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/missing"}'
bad elf "without Xen notes" '{"org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/kernel"}' /bin/true
bad pvh "cannot boot as pvh" '{"org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/kernel", "org.runxl.guest.type": "pvh"}'

no_domains && pass "nothing left at the end" || fail "left at the end: $(xl list; ls -A $root)"
echo "unikernel-runxl-in-dom0: $failures failure(s)"
((failures == 0))
