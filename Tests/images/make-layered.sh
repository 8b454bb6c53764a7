#!/usr/bin/env bash
# Builds, offline, a five-layer OCI image layout that exercises every layer feature the
# unpacker applies, at DIR (created; must not exist). Tag `latest` has the layers below; tag
# `gzip` is the same image with layer 4 gzip-compressed, for umoci 0.4.7, which reads no zstd.
#   1 (umoci repack, gzip): files, setuid/setgid/sticky modes, owners, symlinks (absolute,
#     relative, dangling), hard links, device nodes, a fifo, user.* and security.capability
#     xattrs, a non-ASCII name, a long name, a 3 MB file, directories to be changed later.
#   2 (umoci repack, gzip): deletions (whiteouts), a file replaced by a directory, a directory
#     replaced by a file, changed contents, modes and owners.
#   3 (hand-written tar, gzip via `umoci raw add-layer`): an opaque directory, the directory
#     from layer 2 back to a file (whiteout then file).
#   4 (hand-written tar, zstd, added to the layout here): whiteouts, a file replaced by a symlink.
#   5 (hand-written tar, uncompressed): a hard link group split by a whiteout, new entries.
# Needs root (device nodes, owners), umoci, zstd, setcap and python3.
# Usage: Tests/images/make-layered.sh DIR
set -euo pipefail
out=${1:?usage: make-layered.sh DIR}
[ ! -e "$out" ] || { echo "make-layered: $out exists" >&2; exit 1; }
for tool in umoci zstd python3 setcap; do
  command -v "$tool" >/dev/null || { echo "make-layered: $tool is missing (Scripts/bootstrap installs it)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

umoci init --layout "$out"
umoci new --image "$out:latest"
umoci unpack --image "$out:latest" "$work/bundle" >/dev/null
r=$work/bundle/rootfs

# Layer 1
mkdir -p "$r"/etc "$r"/usr/bin "$r"/dev "$r"/opaque/lower-sub "$r"/gone-dir/deeper "$r"/dirfile/child "$r"/tmp "$r"/home/user
echo hello >"$r"/etc/hello
echo "to be deleted" >"$r"/etc/deleted
echo secret >"$r"/etc/secret && chmod 0600 "$r"/etc/secret && chown 0:42 "$r"/etc/secret
printf 'x' >"$r"/usr/bin/suid && chmod 4755 "$r"/usr/bin/suid
printf 'y' >"$r"/usr/bin/sgid && chmod 2755 "$r"/usr/bin/sgid
printf 'ping' >"$r"/usr/bin/ping && setcap cap_net_raw+ep "$r"/usr/bin/ping
chmod 1777 "$r"/tmp
echo mine >"$r"/home/user/file && chown -R 1000:1000 "$r"/home/user
echo hard >"$r"/usr/bin/hard1 && ln "$r"/usr/bin/hard1 "$r"/usr/bin/hard2 && ln "$r"/usr/bin/hard1 "$r"/usr/bin/hard3
ln -s /etc/hello "$r"/abs-link
ln -s etc/hello "$r"/rel-link
ln -s /nonexistent/target "$r"/dangling
ln -s usr "$r"/dir-link
mknod "$r"/dev/null c 1 3
mknod "$r"/dev/loop0 b 7 0
mkfifo "$r"/dev/fifo
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.note", b"layer one")' "$r"/etc/hello
echo accents >"$r/etc/naïve ñ.txt"
long=$(printf 'long-name-%.0s' $(seq 1 12))
echo long >"$r/etc/$long"
head -c 3145728 /dev/urandom >"$r"/usr/bin/big
echo a >"$r"/opaque/lower-a && echo x >"$r"/opaque/lower-sub/x
echo f >"$r"/gone-dir/deeper/f
echo flip >"$r"/flip
echo c >"$r"/dirfile/child/c
# --refresh-bundle: the next repack diffs against this layer, not against the empty image.
umoci repack --refresh-bundle --image "$out:latest" "$work/bundle"

# Layer 2
rm "$r"/etc/deleted
rm -rf "$r"/gone-dir
rm "$r"/flip && mkdir "$r"/flip && echo inside >"$r"/flip/inside
rm -rf "$r"/dirfile && echo "now a file" >"$r"/dirfile
echo "hello again" >"$r"/etc/hello
chmod 0700 "$r"/usr/bin/sgid
chown 5:5 "$r"/home/user/file
echo new >"$r"/usr/bin/new
umoci repack --image "$out:latest" "$work/bundle"

# Layers 3-5 are written by hand: umoci writes neither opaque markers nor zstd.
python3 - "$work" <<'PY'
import io, sys, tarfile
work = sys.argv[1]

def add(tar, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, **fields):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 1700000000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

with tarfile.open(f"{work}/layer3.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, "opaque/", tarfile.DIRTYPE, mode=0o755)
    add(tar, "opaque/.wh..wh..opq")
    add(tar, "opaque/new-file", data=b"after the opaque marker\n")
    add(tar, "opaque/lower-sub/", tarfile.DIRTYPE, mode=0o750)
    add(tar, "opaque/lower-sub/y", data=b"y\n")
    add(tar, ".wh.flip")
    add(tar, "./flip", data=b"a file again\n", mode=0o640)

with tarfile.open(f"{work}/layer4.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, ".wh.rel-link")
    add(tar, "etc/.wh.secret")
    add(tar, "etc/secret", tarfile.SYMTYPE, linkname="/etc/hello")
    add(tar, "zstd/", tarfile.DIRTYPE, mode=0o700)
    add(tar, "zstd/hello", data=b"from a zstd layer\n", mode=0o600, uid=7, gid=8)

with tarfile.open(f"{work}/layer5.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, "usr/bin/.wh.hard2")
    add(tar, "usr/bin/hard4", tarfile.LNKTYPE, linkname="usr/bin/hard1")
    add(tar, "plain/fifo", tarfile.FIFOTYPE, mode=0o600)
    add(tar, "plain/file", data=b"uncompressed layer\n", mode=0o4711)
PY
umoci raw add-layer --image "$out:latest" "$work/layer3.tar"
umoci tag --image "$out:latest" gzip
zstd -q -19 "$work/layer4.tar" -o "$work/layer4.tar.zst"
gzip -n -c "$work/layer4.tar" >"$work/layer4.tar.gz"

# Appends a prepared layer blob to the manifest of a tag: blob, manifest, config
# (diff_ids, history) and index, the way a registry client would see them.
append_layer() {
  python3 - "$out" "$1" "$2" "$3" "$4" <<'PY'
import hashlib, json, os, sys
layout, tag, blob_path, tar_path, media_type = sys.argv[1:6]

def store(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)

def load(digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])) as f:
        return json.load(f)

index = json.load(open(os.path.join(layout, "index.json")))
descriptor = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
manifest = load(descriptor["digest"])
config = load(manifest["config"]["digest"])
blob = open(blob_path, "rb").read()
diff_id = "sha256:" + hashlib.sha256(open(tar_path, "rb").read()).hexdigest()
layer_digest, layer_size = store(blob)
manifest["layers"].append({"mediaType": media_type, "digest": layer_digest, "size": layer_size})
config["rootfs"]["diff_ids"].append(diff_id)
config.setdefault("history", []).append({"created_by": "make-layered.sh " + media_type})
manifest["config"]["digest"], manifest["config"]["size"] = store(json.dumps(config).encode())
descriptor["digest"], descriptor["size"] = store(json.dumps(manifest).encode())
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(index, f)
PY
}
append_layer latest "$work/layer4.tar.zst" "$work/layer4.tar" application/vnd.oci.image.layer.v1.tar+zstd
append_layer gzip "$work/layer4.tar.gz" "$work/layer4.tar" application/vnd.oci.image.layer.v1.tar+gzip
for tag in latest gzip; do
  append_layer "$tag" "$work/layer5.tar" "$work/layer5.tar" application/vnd.oci.image.layer.v1.tar
done
umoci gc --layout "$out"
echo "$out"
