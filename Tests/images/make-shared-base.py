#!/usr/bin/env python3
"""Builds, offline, an OCI image layout with three images over one gzip base layer, for the
layer-chain snapshot tests (Tests/ImageStoreTests/Snapshot*.swift):
  base   = [L1]
  first  = [L1, L2]   L2 rewrites L1's files in every way a layer can (contents, mode, owner,
                      xattr, file -> symlink, file -> directory, whiteout, opaque directory, a
                      new hard link to a lower file, a sparse file): if the unpacker changed a
                      lower inode in place, the base snapshot would show it.
  second = [L1, L3]   L3 adds one file.
Tags are the image names (ref.name annotations). Usage: make-shared-base.py DIR"""
import gzip, hashlib, io, json, os, sys, tarfile

out = sys.argv[1]
os.makedirs(out + "/blobs/sha256")
MTIME = 1_600_000_000


def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="", xattrs=None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime, info.linkname = kind, mode, uid, gid, MTIME, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if xattrs:
        info.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, data)
    uncompressed = raw.getvalue()
    compressed = gzip.compress(uncompressed, mtime=0)
    digest, size = blob(compressed)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}, \
        "sha256:" + hashlib.sha256(uncompressed).hexdigest()


D = tarfile.DIRTYPE
l1 = layer([
    entry("etc/", D, mode=0o755),
    entry("etc/hello", data=b"hello from the base\n", xattrs={"user.note": "base"}),
    entry("etc/secret", data=b"base secret\n", mode=0o600, uid=0, gid=42),
    entry("etc/to-link", data=b"becomes a symlink\n"),
    entry("etc/to-dir", data=b"becomes a directory\n"),
    entry("etc/gone", data=b"whited out above\n"),
    entry("bin/", D, mode=0o755),
    entry("bin/tool", data=b"#!/bin/sh\necho base\n", mode=0o4755),
    entry("bin/tool-alias", tarfile.LNKTYPE, link="bin/tool"),
    entry("bin/sh", tarfile.SYMTYPE, link="/bin/busybox"),
    entry("opaque/", D, mode=0o750, uid=3, gid=3),
    entry("opaque/lower", data=b"hidden by the opaque marker\n"),
    entry("big", data=b"x" * (1 << 20) + b"end\n"),
])
l2 = layer([
    entry("etc/hello", data=b"hello from the first image\n", mode=0o640, uid=5, gid=6, xattrs={"user.note": "first"}),
    entry("etc/secret", data=b"first secret\n", mode=0o644, uid=7, gid=7),
    entry("etc/to-link", tarfile.SYMTYPE, link="hello"),
    entry("etc/to-dir/", D, mode=0o700),
    entry("etc/to-dir/inside", data=b"now inside\n"),
    entry("etc/.wh.gone"),
    entry("bin/tool", data=b"#!/bin/sh\necho first\n", mode=0o755),
    entry("bin/another-alias", tarfile.LNKTYPE, link="bin/tool-alias"),
    entry("opaque/.wh..wh..opq"),
    entry("opaque/upper", data=b"above the opaque marker\n"),
    entry("big", data=b"y" * 10 + b"\n"),
])
l3 = layer([entry("etc/second", data=b"only in the second image\n")])


def image(name, layers):
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in layers]}}
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
                "layers": [descriptor for descriptor, _ in layers]}
    digest, size = blob(json.dumps(manifest).encode())
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": name}}


index = {"schemaVersion": 2, "manifests": [image("base", [l1]), image("first", [l1, l2]), image("second", [l1, l3])]}
with open(out + "/index.json", "w") as f:
    json.dump(index, f)
with open(out + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
