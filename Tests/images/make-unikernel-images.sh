#!/usr/bin/env bash
# Packages the test unikernels (Images/unikernels, built here with gcc) as OCI image layouts,
# one per packaging convention runxl recognizes (docs/unikernels.md):
#   runxl-pv, runxl-pvh   org.runxl.unikernel.* manifest annotations, kernel at /boot/kernel
#   urunc-pv, urunc-pvh   com.urunc.unikernel.* manifest annotations and config labels
#                         (values base64, as bima writes them), kernel at /unikernel/kernel.elf
#   uruncjson-pv, -pvh    /urunc.json in the rootfs (base64 values), no annotations: what
#                         podman and containerd pass on whatever they do with annotations
#   kraftkit-pv           kraftkit's layout: /unikraft/bin/kernel on a layer annotated
#                         org.unikraft.kernel.image, config os "xen" (import with
#                         --platform xen/x86_64)
# Each image's Cmd is ["hello"]. With REAL_DIR (Images/unikernels/real/build's output), also
# the real unikernels built from their own sources:
#   real-unikraft         Unikraft helloworld in kraftkit's layout (as kraftkit-pv), no Cmd
#   real-unikraft-httpreply  Unikraft's HTTP server (port 8080), the same layout, no Cmd
#   real-mini-os-pv, -pvh Mini-OS with org.runxl.unikernel.type mini-os, kernel at /boot/mini-os
# Prints the output directory.
# Usage: Tests/images/make-unikernel-images.sh OUT_DIR [REAL_DIR]
set -euo pipefail
out=${1:?usage: make-unikernel-images.sh OUT_DIR [REAL_DIR]}
real=${2:-}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$repo/Images/unikernels/build" >/dev/null
mkdir -p "$out"
/usr/bin/python3 - "$repo/Images/unikernels/out" "$out" "$real" <<'PY'
import base64, gzip, hashlib, io, json, os, shutil, sys, tarfile

kernels, out, real = sys.argv[1], sys.argv[2], sys.argv[3]

def b64(text):
    return base64.b64encode(text.encode()).decode()

def layout(name, files, annotations=None, labels=None, layer_annotations=None, os_name="linux", arch="amd64", cmd=("hello",)):
    root = os.path.join(out, name)
    shutil.rmtree(root, ignore_errors=True)
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs)
    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)
    # One layer, deterministic: fixed mtimes, owner root, directories first.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({os.path.dirname(p).lstrip("/") for p, _, _ in files} - {""})
        made = set()
        for directory in directories:
            parts = directory.split("/")
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d in made:
                    continue
                made.add(d)
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(info)
        for path, data, mode in files:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer_digest, layer_size = blob(gzip.compress(raw.getvalue(), mtime=0))
    config = {
        "architecture": arch, "os": os_name,
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if labels:
        config["config"]["Labels"] = labels
    config_digest, config_size = blob(json.dumps(config, sort_keys=True).encode())
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}
    if layer_annotations:
        layer["annotations"] = layer_annotations
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [layer],
    }
    if annotations:
        manifest["annotations"] = annotations
    manifest_digest, manifest_size = blob(json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": arch, "os": os_name},
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

def kernel(kind):
    with open(os.path.join(kernels, kind + ".elf"), "rb") as f:
        return f.read()

for kind in ("pv", "pvh"):
    layout("runxl-" + kind, [("/boot/kernel", kernel(kind), 0o755)], annotations={
        "org.runxl.unikernel.type": "xen-elf", "org.runxl.unikernel.binary": "/boot/kernel"})
    urunc = {
        "com.urunc.unikernel.unikernelType": "b64:" + b64("xen-elf"),
        "com.urunc.unikernel.hypervisor": b64("xen"),
        "com.urunc.unikernel.binary": "b64:" + b64("/unikernel/kernel.elf"),
        "com.urunc.unikernel.cmdline": b64("hello from urunc"),
    }
    layout("urunc-" + kind, [("/unikernel/kernel.elf", kernel(kind), 0o755)], annotations=urunc, labels=urunc)

for kind in ("pv", "pvh"):
    layout("uruncjson-" + kind, [
        ("/unikernel/kernel.elf", kernel(kind), 0o755),
        ("/urunc.json", json.dumps({
            "com.urunc.unikernel.unikernelType": b64("xen-elf"),
            "com.urunc.unikernel.hypervisor": b64("xen"),
            "com.urunc.unikernel.binary": b64("/unikernel/kernel.elf"),
            "com.urunc.unikernel.cmdline": b64("hello"),
        }).encode(), 0o644)])

layout("kraftkit-pv", [("/unikraft/bin/kernel", kernel("pv"), 0o755)],
       annotations={"org.unikraft.kernel.version": "0.17.0"},
       layer_annotations={"org.unikraft.kernel.image": "/unikraft/bin/kernel"},
       os_name="xen", arch="x86_64")

def real_kernel(name):
    with open(os.path.join(real, name), "rb") as f:
        return f.read()

if real:
    for name, kernel_name in (("real-unikraft", "unikraft-helloworld"), ("real-unikraft-httpreply", "unikraft-httpreply")):
        layout(name, [("/unikraft/bin/kernel", real_kernel(kernel_name), 0o755)],
               annotations={"org.unikraft.kernel.version": "0.17.0"},
               layer_annotations={"org.unikraft.kernel.image": "/unikraft/bin/kernel"},
               os_name="xen", arch="x86_64", cmd=())
    for kind in ("pv", "pvh"):
        # /urunc.json too: containerd passes no image annotations to the runtime.
        layout("real-mini-os-" + kind, [
            ("/boot/mini-os", real_kernel("mini-os-" + kind), 0o755),
            ("/urunc.json", json.dumps({
                "com.urunc.unikernel.unikernelType": b64("mini-os"),
                "com.urunc.unikernel.hypervisor": b64("xen"),
                "com.urunc.unikernel.binary": b64("/boot/mini-os"),
            }).encode(), 0o644)], annotations={
            "org.runxl.unikernel.type": "mini-os", "org.runxl.unikernel.binary": "/boot/mini-os"}, cmd=())
print(out)
PY
