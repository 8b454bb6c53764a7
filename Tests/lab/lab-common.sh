# The helpers every lab check script uses, sourced once per dom0 run: PASS/FAIL counters,
# timing, runxl under the lab's root, and the host config naming the lab's guest kernel.
set -uo pipefail
runxl=$RUNXL_BINARY
work=$RUNXL_LAB_WORK
root=/run/runxl-lab
export RUNXL_INIT
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# expect NAME EXPECTED ACTUAL
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
only_dom0() { [ "$(xl list | tail -n +2 | wc -l)" = 1 ]; }
root_empty() { [ -z "$(ls -A "$root" 2>/dev/null)" ]; }
rx() { "$runxl" --root "$root" "$@"; }
# The closing line Scripts/lab-tests reads; the exit status says whether anything failed.
finish_lab() {
  echo "lab: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

# The guest kernel: the lab's ELF (already extracted on the host), through the host config file.
mkdir -p /etc/runxl /var/lib/runxl
cat >/etc/runxl/config.json <<JSON
{"kernel": "$RUNXL_LAB_KERNEL", "cacheDir": "/var/lib/runxl/cache"}
JSON
lab_common_loaded=1
