#!/usr/bin/env bash
# The test unikernels (Images/unikernels) on a real Xen, in ONE lab boot: the
# PV and the PVH kernel each boot twice, once with "hello a b exit=3" (prints
# its command line and one line per word, writes exited:3 to xenstore
# data/runxl/exit, powers off) and once with "crash now" (SHUTDOWN_crash).
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

declare -A started
create() { # create NAME TYPE KERNEL EXTRA
  cat >"/tmp/$1.cfg" <<CFG
name = "$1"
type = "$2"
kernel = "$3"
extra = "$4"
memory = 32
vcpus = 1
on_poweroff = "preserve"
on_crash = "preserve"
on_reboot = "destroy"
CFG
  started[$1]=$(now)
  if xl create "/tmp/$1.cfg" >"/tmp/$1.create" 2>&1; then
    echo "TIMING: $1 xl create returned after $(seconds_since "${started[$1]}")s"
  else
    fail "$1: xl create: $(tail -n 5 "/tmp/$1.create")"
  fi
}

show_console() {
  echo "--- console of $1 ($2):"
  sed 's/^/    /' "$2" 2>/dev/null
  echo "---"
}

check_exit_guest() { # NAME FLAVOUR
  local name=$1 flavour=$2 log=/var/log/xen/console/guest-$1.log
  if wait_state "$name" s 120; then
    echo "TIMING: $name create to shut down $(seconds_since "${started[$name]}")s"
    pass "$name shut down (state $(state_of "$name"))"
  else
    fail "$name not shut down: state [$(state_of "$name")]"
  fi
  sleep 0.5 # xenconsoled writes the log after reading the ring
  show_console "$name" "$log"
  local expected
  expected=$(printf '%s\n' "unikernel $flavour: cmdline \"hello a b exit=3\"" \
    "arg 0: hello" "arg 1: a" "arg 2: b" "arg 3: exit=3" \
    "exit: wrote data/runxl/exit = exited:3" "poweroff")
  if [ "$(tr -d '\r' <"$log" 2>/dev/null)" = "$expected" ]; then
    pass "$name console output is exactly as expected"
  else
    fail "$name console output differs; expected:"
    printf '%s\n' "$expected" | sed 's/^/    /'
  fi
  local domid value
  domid=$(xl domid "$name" 2>/dev/null)
  value=$(xenstore-read "/local/domain/$domid/data/runxl/exit" 2>&1)
  if [ "$value" = "exited:3" ]; then
    pass "$name xenstore /local/domain/$domid/data/runxl/exit = $value"
  else
    fail "$name xenstore data/runxl/exit: [$value]"
  fi
  xl destroy "$name" >/dev/null 2>&1
}

check_crash_guest() { # NAME FLAVOUR
  local name=$1 flavour=$2 log=/var/log/xen/console/guest-$1.log
  if wait_state "$name" c 120; then
    echo "TIMING: $name create to crashed $(seconds_since "${started[$name]}")s"
    pass "$name crashed on request (state $(state_of "$name"))"
  else
    fail "$name not crashed: state [$(state_of "$name")]"
  fi
  sleep 0.5
  show_console "$name" "$log"
  if tr -d '\r' <"$log" 2>/dev/null | tail -n 1 | grep -qx crash; then
    pass "$name console ends with 'crash'"
  else
    fail "$name console does not end with 'crash'"
  fi
  xl destroy "$name" >/dev/null 2>&1
}

in_dom0() {
  for flavour in pv pvh; do
    create "uk-$flavour-exit" "$flavour" "$images/$flavour.elf" "hello a b exit=3"
    create "uk-$flavour-crash" "$flavour" "$images/$flavour.elf" "crash now"
  done
  for flavour in pv pvh; do
    check_exit_guest "uk-$flavour-exit" "$flavour"
    check_crash_guest "uk-$flavour-crash" "$flavour"
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
