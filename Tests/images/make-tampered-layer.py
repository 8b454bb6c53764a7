#!/usr/bin/env python3
"""make-tampered-layer.py DIR: an OCI layout whose layer blobs all match their manifest
descriptors (digest and size), but some do not inflate to the image config's diff_ids.

Tags (the importer names them localhost/DIR:TAG):
  good       [L1, L2], diff_ids right: unpacks and streams
  tampered   [L1, L2x]: L2x is a gzip of other content (bin/app says "evil"); the config claims
             L2's diff_id
  trailing   [L1t]: L1's tar with bytes appended after the tar end-of-archive blocks, gzipped;
             the config claims L1's diff_id. Every tar entry is L1's, so only a digest of the
             whole uncompressed stream can tell.
  plain      [L1p]: L1x uncompressed (the blob digest is its own diff_id) under L1's diff_id
"""
import gzip, hashlib, io, json, os, sys, tarfile

out = sys.argv[1]
os.makedirs(out + "/blobs/sha256", exist_ok=True)


def tar_bytes(entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return f"sha256:{digest}", len(data)


def diff_id(tar):
    return "sha256:" + hashlib.sha256(tar).hexdigest()


def layer(data, media="application/vnd.oci.image.layer.v1.tar+gzip"):
    digest, size = blob(data)
    return {"mediaType": media, "digest": digest, "size": size}


def gz(tar):
    return gzip.compress(tar, mtime=0)


def image(tag, layers, diff_ids):
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/app"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    }
    digest, size = blob(json.dumps(manifest).encode())
    return {"mediaType": manifest["mediaType"], "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag}}


l1 = tar_bytes([("bin", None, 0o755), ("bin/app", b"#!/bin/sh\necho good\n", 0o755),
                ("etc", None, 0o755), ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644)])
l2 = tar_bytes([("etc/motd", b"hello\n", 0o644)])
l2x = tar_bytes([("etc/motd", b"hello\n", 0o644), ("bin/app", b"#!/bin/sh\necho evil\n", 0o755)])
l1x = tar_bytes([("bin", None, 0o755), ("bin/app", b"#!/bin/sh\necho evil\n", 0o755),
                 ("etc", None, 0o755), ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644)])
assert l1.endswith(b"\0" * 1024)

trailing = l1 + b"hidden after the end of the archive"
images = [
    ("good", [gz(l1), gz(l2)], [diff_id(l1), diff_id(l2)], None),
    ("tampered", [gz(l1), gz(l2x)], [diff_id(l1), diff_id(l2)], l2x),
    ("trailing", [gz(trailing)], [diff_id(l1)], trailing),
    ("plain", [l1x], [diff_id(l1)], l1x),
]
manifests = []
# For the tests: per bad image, its last layer's blob digest, the diff_id claimed for it and
# the digest its uncompressed stream really has.
expected = {}
for tag, blobs, diff_ids, bad in images:
    layers = [layer(data) if data[:2] == b"\x1f\x8b" else layer(data, "application/vnd.oci.image.layer.v1.tar")
              for data in blobs]
    manifests.append(image(tag, layers, diff_ids))
    if bad is not None:
        expected[tag] = {"layer": layers[-1]["digest"], "diffID": diff_ids[-1], "actual": diff_id(bad),
                         "chain": [entry["digest"] for entry in layers]}
with open(out + "/expected.json", "w") as f:
    json.dump(expected, f)
with open(out + "/oci-layout", "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(out + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}, f)
