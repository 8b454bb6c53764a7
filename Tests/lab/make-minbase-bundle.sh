#!/usr/bin/env bash
# Unpacks the Debian minbase image (Scripts/bench.d/minbase-image.sh: debootstrap once, cached
# under lab/cache) into the bundle DIR/minbase, for the lab's share-mode checks and benchmarks.
# Without a Debian mirror it says so and exits 0: the checks that need it print SKIP.
# Usage: Tests/lab/make-minbase-bundle.sh DIR
set -uo pipefail
dir=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
if ! layout=$("$repo/Scripts/bench.d/minbase-image.sh" 2>"$dir/minbase.log"); then
  echo "make-minbase-bundle: no Debian minbase image: $(tail -n 3 "$dir/minbase.log")" >&2
  exit 0
fi
umoci unpack --image "$layout:latest" "$dir/minbase" >/dev/null 2>>"$dir/minbase.log" ||
  echo "make-minbase-bundle: cannot unpack $layout: $(tail -n 3 "$dir/minbase.log")" >&2
exit 0
