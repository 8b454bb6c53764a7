#!/usr/bin/env python3
"""Writes hostile and broken image layers, one file per case, into OUTDIR.

The tests unpack each into DIR/rootfs next to DIR/sentinel (SENTINEL, an absolute path, holding
a file `secret`) and check that the layer is refused and the sentinel untouched. Case names are
the file names without extension; multi-layer cases are NAME.1.tar, NAME.2.tar, applied in order.
Usage: make-hostile.py OUTDIR SENTINEL [CASE...] (all cases when none is named)"""
import io, os, sys, tarfile

out, sentinel = sys.argv[1], sys.argv[2].rstrip("/")
selected = set(sys.argv[3:])
os.makedirs(out, exist_ok=True)


def wanted(file_name):
    return not selected or file_name.split(".")[0] in selected


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, 1700000000, linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer(name, *entries, mode="w"):
    if not wanted(name):
        return
    with tarfile.open(os.path.join(out, name), mode, format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, data)


def symlink(name, target):
    return entry(name, tarfile.SYMTYPE, linkname=target)


def hardlink(name, target):
    return entry(name, tarfile.LNKTYPE, linkname=target)


def directory(name):
    return entry(name, tarfile.DIRTYPE, mode=0o755)


pwned = b"pwned\n"
# `..` leaving the rootfs, directly and after a detour.
layer("dotdot.tar", entry("../sentinel/pwned", data=pwned))
layer("dotdot-nested.tar", directory("a/"), entry("a/../../sentinel/pwned", data=pwned))
# An absolute name is read relative to the rootfs: it must land inside, not in the sentinel.
layer("absolute.tar", entry(sentinel + "/pwned", data=pwned))
# Writing through a symlink made earlier in the same layer (relative and absolute targets), as a
# file and as a directory, and through one made by an earlier layer.
layer("symlink-write.tar", symlink("escape", "../sentinel"), entry("escape/pwned", data=pwned))
layer("symlink-absolute-write.tar", symlink("escape", sentinel), entry("escape/pwned", data=pwned))
layer("symlink-mkdir.tar", symlink("escape", "../sentinel"), directory("escape/newdir/"))
layer("symlink-layers.1.tar", symlink("escape", "../sentinel"))
layer("symlink-layers.2.tar", entry("escape/pwned", data=pwned))
layer("symlink-deep.tar", directory("d/"), symlink("d/up", "../.."), entry("d/up/sentinel/pwned", data=pwned))
# The same links when their target exists inside the rootfs (a `sentinel` directory of the
# image's own): resolved with the rootfs as `/`, the writes land there.
layer("symlink-inside-write.tar", directory("sentinel/"), symlink("escape", "../sentinel"), entry("escape/pwned", data=pwned))
layer("symlink-absolute-inside.tar", directory(sentinel.lstrip("/") + "/"), symlink("escape", sentinel), entry("escape/pwned", data=pwned))
# A usr-merged base (`lib -> usr/lib`) and a later layer writing below `lib/`, as Debian images do.
layer("usrmerge.1.tar", directory("usr/"), directory("usr/lib/"), symlink("lib", "usr/lib"))
layer("usrmerge.2.tar", directory("lib/modules/"), entry("lib/modules/file", data=b"merged\n"))
# A file entry where a symlink to an outside file stands: the symlink is replaced, never followed.
layer("symlink-overwrite.tar", symlink("victim", "../sentinel/secret"), entry("victim", data=pwned))
# Hard links to files outside: by `..`, by an absolute name, through a symlink.
layer("hardlink-dotdot.tar", hardlink("link", "../sentinel/secret"))
layer("hardlink-absolute.tar", hardlink("link", sentinel + "/secret"))
layer("hardlink-through-symlink.tar", symlink("escape", "../sentinel"), hardlink("link", "escape/secret"))
# A hard link to a symlink that points outside is a second name for the symlink, not for the
# file it points at.
layer("hardlink-to-symlink.tar", symlink("escape", "../sentinel/secret"), hardlink("link", "escape"))
# Whiteouts naming something outside: `..` in the path, a whiteout of `..` itself, through a
# symlink, and an opaque marker through a symlink.
layer("whiteout-dotdot.tar", entry("../sentinel/.wh.secret"))
layer("whiteout-parent.tar", entry(".wh..."))
layer("whiteout-self.tar", directory("sub/"), entry("sub/.wh.."))
layer("whiteout-symlink.tar", symlink("escape", "../sentinel"), entry("escape/.wh.secret"))
layer("opaque-symlink.tar", symlink("escape", "../sentinel"), entry("escape/.wh..wh..opq"))
# The rootfs itself replaced by a symlink.
layer("root-symlink.tar", symlink("./", "../sentinel"))


class Zeros(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = bytes(len(buffer))
        return len(buffer)


# A gzip bomb: 64 MiB of zeros in about 64 KiB.
if wanted("bomb"):
    with tarfile.open(os.path.join(out, "bomb.tar.gz"), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("bomb")
        info.size, info.mode = 64 << 20, 0o644
        tar.addfile(info, io.BufferedReader(Zeros()))
# Too many entries, a path too long, a path too deep.
layer("many-entries.tar", *([entry(f"f{i}") for i in range(300)] if wanted("many-entries") else []))
layer("long-path.tar", entry("x" * 200 + "/" + "y" * 5000, data=b"long"))
layer("deep-path.tar", entry("/".join(["d"] * 300) + "/f", data=b"deep"))
# Broken input: a gzip stream cut short.
if wanted("truncated"):
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(20):
            data = os.urandom(8192)
            info, _ = entry(f"file{i}", data=data)
            tar.addfile(info, io.BytesIO(data))
    compressed = whole.getvalue()
    with open(os.path.join(out, "truncated.tar.gz"), "wb") as f:
        f.write(compressed[: len(compressed) // 2])
# Device nodes (the host's /dev/null and its first disk, world-writable), a setuid-root file:
# applied inside the rootfs as the image says (the guest needs them), nothing outside.
def device(name, kind, major, minor, mode=0o666):
    info, _ = entry(name, kind, mode=mode)
    info.devmajor, info.devminor = major, minor
    return info, None


def setuid(name):
    info, data = entry(name, data=b"#!/bin/sh\n", mode=0o4755)
    info.uid = info.gid = 0
    return info, data


layer("device.tar", directory("dev/"), device("dev/null", tarfile.CHRTYPE, 1, 3), device("dev/disk", tarfile.BLKTYPE, 8, 0))
layer("setuid.tar", directory("bin/"), setuid("bin/su"))
# Duplicate and conflicting entries: the last entry of a path wins, whatever the kinds.
layer("duplicate.tar", entry("twice", data=b"first\n"), entry("twice", data=b"second\n"))
layer("conflict.tar", entry("x", data=b"file\n"), directory("x/"), entry("x/inside", data=b"inside\n"),
      directory("d/"), entry("d/child", data=b"child\n"), entry("d", data=b"file now\n"),
      symlink("s", "../sentinel"), directory("s/"))
# A name that is not UTF-8 (bytes kept as they are) and a component longer than NAME_MAX.
if wanted("invalid-utf8"):
    with tarfile.open(os.path.join(out, "invalid-utf8.tar"), "w", format=tarfile.GNU_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:
        name = b"bad-\xff\xfe-name".decode("utf-8", "surrogateescape")
        info, data = entry(name, data=b"bytes\n")
        tar.addfile(info, data)
layer("long-name.tar", entry("n" * 300, data=b"long name\n"))
# A huge sparse file: 16 GiB long, a few bytes of data (GNU tar -S stores only the data).
if wanted("sparse"):
    import subprocess, tempfile
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "sparse"), "wb") as f:
            f.truncate(16 << 30)
            f.seek(8 << 30)
            f.write(b"data in the middle\n")
        subprocess.run(["tar", "--sparse", "--format=pax", "-C", work, "-cf", os.path.join(out, "sparse.tar"), "sparse"],
                       check=True)
# More layers than runxl accepts for one image (the test lowers the limit to 4).
for index in range(1, 6):
    layer(f"many-layers.{index}.tar", entry(f"layer{index}", data=b"x"))
# Whiteouts and entries of one layer: image-spec says a whiteout hides lower layers only.
layer("same-layer.1.tar", directory("dir/"), entry("dir/lower", data=b"lower\n"), entry("kept", data=b"lower\n"))
layer("same-layer.2.tar", entry("dir/upper", data=b"upper\n"), entry("dir/.wh..wh..opq"), entry("new", data=b"new\n"),
      entry(".wh.new"), entry(".wh.kept"), entry("kept", data=b"upper\n"))
