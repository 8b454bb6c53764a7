#!/usr/bin/env python3
"""Compares two unpacked root file systems: file list, types, contents, permission bits
(setuid included), owners, symlink targets, device numbers, hard-link groups and the
user.* / security.capability xattrs. Prints each difference; exit status 1 if any.
Usage: compare-rootfs.py EXPECTED ACTUAL [--mtimes]"""
import hashlib, os, stat, sys

def describe(root, mtimes):
    result, inodes = {}, {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            entry = {"type": stat.S_IFMT(info.st_mode), "mode": oct(stat.S_IMODE(info.st_mode)),
                     "owner": (info.st_uid, info.st_gid)}
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                entry["sha256"] = digest.hexdigest()
                entry["size"] = info.st_size
                inodes.setdefault(info.st_ino, []).append(rel)
            elif stat.S_ISLNK(info.st_mode):
                entry["target"] = os.readlink(path)
                del entry["mode"]
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                entry["rdev"] = (os.major(info.st_rdev), os.minor(info.st_rdev))
            if not stat.S_ISLNK(info.st_mode):
                names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                               if n.startswith("user.") or n == "security.capability")
                entry["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names}
            if mtimes and not stat.S_ISLNK(info.st_mode):
                entry["mtime"] = int(info.st_mtime)
            result[rel] = entry
    for names in inodes.values():
        for name in names:
            result[name]["links"] = sorted(names)
    return result

def main():
    expected_root, actual_root = sys.argv[1], sys.argv[2]
    mtimes = "--mtimes" in sys.argv[3:]
    expected, actual = describe(expected_root, mtimes), describe(actual_root, mtimes)
    differences = 0
    for rel in sorted(set(expected) | set(actual)):
        if rel not in actual:
            print(f"missing: {rel}"); differences += 1
        elif rel not in expected:
            print(f"extra: {rel}"); differences += 1
        elif expected[rel] != actual[rel]:
            keys = sorted(k for k in set(expected[rel]) | set(actual[rel]) if expected[rel].get(k) != actual[rel].get(k))
            for k in keys:
                print(f"differs: {rel}: {k}: expected {expected[rel].get(k)!r}, got {actual[rel].get(k)!r}")
            differences += 1
    print(f"compared {len(expected)} expected with {len(actual)} actual entries: {differences} differences")
    sys.exit(1 if differences else 0)

main()
