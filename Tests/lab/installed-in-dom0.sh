#!/usr/bin/env bash
# runxl as the Debian package installs it (Scripts/package-deb; Scripts/test installs it on the
# host before the lab boots, RUNXL_LAB_INSTALLED=1): /usr/bin/runxl finds its static runxl-init
# without RUNXL_INIT, and podman set up as the README says runs a container with it.
# Sourced by Tests/lab/in-dom0.sh after the clients (podman-setup.sh: $image, $clients).
echo "== the installed package: /usr/bin/runxl without RUNXL_INIT"
if [ -z "${RUNXL_LAB_INSTALLED:-}" ]; then
  echo "  skipped: the package was not installed on the host (Scripts/test installs it; not counted)"
  return 0 2>/dev/null || exit 0
fi
if [ ! -x /usr/bin/runxl ]; then
  fail "installed: /usr/bin/runxl is missing although the host installed the package"
  return 0 2>/dev/null || exit 0
fi
env -u RUNXL_INIT timeout 300 /usr/bin/runxl --root /run/runxl-installed launch "$work/hello" >/tmp/installed.out 2>/tmp/installed.err
expect "installed: runxl launch exit status" 0 "$?"
expect "installed: runxl launch output" "hello from a Xen guest" "$(cat /tmp/installed.out)"
[ -s /tmp/installed.err ] && echo "  stderr: $(tail -c 400 /tmp/installed.err)"

# The README's podman set-up, naming the installed binary and passing conmon no RUNXL_INIT.
sed -e "s#^runxl = .*#runxl = [\"/usr/bin/runxl\"]#" -e 's#, "RUNXL_INIT=[^"]*"##' \
  "$clients/containers.conf" >"$clients/containers-installed.conf"
grep -q RUNXL_INIT "$clients/containers-installed.conf" && fail "installed: containers.conf still sets RUNXL_INIT"
env -u RUNXL_INIT CONTAINERS_CONF="$clients/containers-installed.conf" timeout -k 5 180 \
  podman --runtime runxl --root "$clients/podman-graph" --runroot "$clients/podman-run" \
  run --rm "$image" echo installed-podman >/tmp/installed.pm 2>&1
expect "installed: podman run with /usr/bin/runxl, exit status" 0 "$?"
grep -q "^installed-podman" /tmp/installed.pm && pass "installed: podman run output" || fail "installed: podman: $(tail -c 600 /tmp/installed.pm)"
expect "installed: no domain left" 0 "$(podman_domains)"
