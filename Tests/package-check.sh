#!/usr/bin/env bash
# The Debian package as a host installs and removes it (Scripts/test runs both around the lab).
#   Tests/package-check.sh install DEB    apt install ./DEB, then check what it put where
#   Tests/package-check.sh remove         apt remove runxl, then check nothing of it is left
set -uo pipefail
failed=0
check() { if eval "$2"; then echo "  ok: $1"; else echo "  FAILED: $1"; failed=1; fi; }
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

case "${1:-}" in
  install)
    deb=$2
    contents=$(dpkg-deb -c "$deb")
    check "the package holds /usr/bin/runxl" 'grep -q " ./usr/bin/runxl$" <<<"$contents"'
    check "the package holds /usr/lib/runxl/runxl-init" 'grep -q " ./usr/lib/runxl/runxl-init$" <<<"$contents"'
    depends=$(dpkg-deb -f "$deb" Depends)
    for needed in xen-utils-4.17 qemu-system-xen iproute2 libxenmisc4.17 libarchive13 libseccomp2; do
      check "it depends on $needed" 'grep -q "$needed" <<<"$depends"'
    done
    # Every dependency is already there (Scripts/bootstrap): apt needs no network.
    status=0; $SUDO apt-get install -y -q --no-install-recommends "$deb" >/tmp/package-install.log 2>&1 || status=$?
    check "apt install ./$(basename "$deb")" '[ $status = 0 ] || { cat /tmp/package-install.log; false; }'
    check "the installed runxl runs" '/usr/bin/runxl --version | grep -q "^runxl version"'
    check "the installed runxl-init is static" 'file /usr/lib/runxl/runxl-init | grep -q "statically linked"'
    ;;
  remove)
    files=$(dpkg -L runxl 2>/dev/null | while read -r path; do [ -f "$path" ] && echo "$path"; done)
    status=0; $SUDO apt-get remove -y -q runxl >/tmp/package-remove.log 2>&1 || status=$?
    check "apt remove runxl" '[ $status = 0 ] || { cat /tmp/package-remove.log; false; }'
    left=""
    for path in $files; do [ -e "$path" ] && left+=" $path"; done
    check "no file of the package is left" '[ -z "$left" ] || { echo "  left:$left"; false; }'
    check "the package is gone" '! dpkg-query -W -f="\${Status}" runxl 2>/dev/null | grep -q "install ok installed"'
    ;;
  *) echo "usage: Tests/package-check.sh install DEB | remove" >&2; exit 2 ;;
esac
exit "$failed"
