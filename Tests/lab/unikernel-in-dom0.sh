#!/usr/bin/env bash
# The test unikernels (Images/unikernels) on a real Xen, in ONE lab boot: the
# PV and the PVH kernel each boot three times: "hello a b exit=3" (prints its
# command line and one line per word, writes exited:3 to xenstore
# data/runxl/exit, powers off), "crash  now" (SHUTDOWN_crash) and
# "exit=256 x" (an out-of-range code: no key written, powers off).
# Guests use on_poweroff/on_crash="preserve" so the exit key (removed with the
# domain) and the shutdown reason can be read afterwards; then they are
# destroyed. Prints PASS/FAIL lines and timings; exits non-zero on any failure.
#
# Usage: Tests/lab/unikernel-in-dom0.sh [--verbose]
# (the lab runs it with --in-dom0)
set -uo pipefail

readonly repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly images=$repo/Images/unikernels/out

now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The xl state column: r b p s c d; "s" shutdown (poweroff), "c" crashed.
state_of() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }'; }
# wait_state NAME LETTER SECONDS
wait_state() {
  local start=$SECONDS
  while ((SECONDS - start < $3)); do
    [[ $(state_of "$1") == *"$2"* ]] && return 0
    sleep 0.1
  done
  return 1
}

# run_case NAME TYPE EXTRA STATE EXIT_VALUE EXPECTED_CONSOLE_LINES...
# Creates one guest and waits for it to stop in STATE (s: shut down, c:
# crashed); checks its whole console log and data/runxl/exit (EXIT_VALUE, or
# "-" for no key); destroys it. One guest at a time, so the timings are its own.
run_case() {
  local name=$1 type=$2 extra=$3 state=$4 exit_value=$5
  shift 5
  local log=/var/log/xen/console/guest-$name.log start
  cat >"/tmp/$name.cfg" <<CFG
name = "$name"
type = "$type"
kernel = "$images/$type.elf"
extra = "$extra"
memory = 32
vcpus = 1
on_poweroff = "preserve"
on_crash = "preserve"
on_reboot = "destroy"
CFG
  echo "== $name: type=$type extra=\"$extra\""
  start=$(now)
  if ! xl create "/tmp/$name.cfg" >"/tmp/$name.create" 2>&1; then
    fail "$name: xl create: $(tail -n 5 "/tmp/$name.create")"
    return
  fi
  echo "TIMING: $name xl create returned after $(seconds_since "$start")s"
  if wait_state "$name" "$state" 120; then
    echo "TIMING: $name create to state $state $(seconds_since "$start")s"
    pass "$name stopped as expected (state $(state_of "$name"))"
  else
    fail "$name did not reach state $state: [$(state_of "$name")]"
  fi
  sleep 0.5 # xenconsoled writes the log after reading the ring
  echo "--- console log $log:"
  sed 's/^/    /' "$log" 2>/dev/null
  echo "---"
  if [ "$(tr -d '\r' <"$log" 2>/dev/null)" = "$(printf '%s\n' "$@")" ]; then
    pass "$name console output is exactly as expected"
  else
    fail "$name console output differs; expected:"
    printf '    %s\n' "$@"
  fi
  local domid value
  domid=$(xl domid "$name" 2>/dev/null)
  if value=$(xenstore-read "/local/domain/$domid/data/runxl/exit" 2>/dev/null); then :; else value=-; fi
  if [ "$value" = "$exit_value" ]; then
    pass "$name /local/domain/$domid/data/runxl/exit: $value"
  else
    fail "$name /local/domain/$domid/data/runxl/exit: [$value], expected [$exit_value]"
  fi
  xl destroy "$name" >/dev/null 2>&1
}

in_dom0() {
  for type in pv pvh; do
    run_case "uk-$type-exit" "$type" "hello a b exit=3" s exited:3 \
      "unikernel $type: cmdline \"hello a b exit=3\"" "arg 0: hello" "arg 1: a" "arg 2: b" \
      "arg 3: exit=3" "exit: wrote data/runxl/exit = exited:3" "poweroff"
    run_case "uk-$type-crash" "$type" "crash  now" c - \
      "unikernel $type: cmdline \"crash  now\"" "arg 0: crash" "arg 1: now" "crash"
    run_case "uk-$type-plain" "$type" "exit=256 x" s - \
      "unikernel $type: cmdline \"exit=256 x\"" "arg 0: exit=256" \
      "exit: not a code in 0...255, ignored" "arg 1: x" "poweroff"
  done
  if ((failures)); then
    echo "--- xl dmesg (tail):"
    xl dmesg 2>&1 | tail -n 40
  fi
  local left
  left=$(xl list | tail -n +3)
  if [ -z "$left" ]; then pass "only Domain-0 is left"; else fail "domains left: $left"; fi
  echo "unikernel-in-dom0: $failures failure(s)"
  ((failures == 0))
  exit
}

if [ "${1-}" = --in-dom0 ]; then
  in_dom0
fi

verbose=()
[ "${1-}" = --verbose ] && verbose=(--verbose)
"$repo/Images/unikernels/build" >/dev/null || exit 1
cd "$repo" || exit 1
exec nice -n 19 "$repo/Scripts/xenlab" --timeout 600 --memory 2048 --dom0-memory 768 --timings "${verbose[@]}" \
  -- "$repo/Tests/lab/unikernel-in-dom0.sh" --in-dom0
