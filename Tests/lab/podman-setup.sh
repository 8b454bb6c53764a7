# podman and containerd set up in the lab's dom0 the way the README documents them, and the
# busybox image loaded into podman ($image). Sourced once by the scripts that drive the clients
# (clients-in-dom0.sh, network-in-dom0.sh).
#
# Podman and containerd keep their storage under /run (dom0's tmpfs): the 9p share of the
# host's root cannot hold overlay upper directories.
[ -n "${podman_setup_done:-}" ] && return 0

clients=/run/clients
rm -rf "$clients"
mkdir -p "$clients/bin" "$clients/cni"
# The runtime's file name must be "runxl" for runtime_supports_json (podman then passes
# --log-format=json and shows our error message).
ln -sf "$runxl" "$clients/bin/runxl"

# The configuration the README documents, with this machine's limits (no systemd, nofile 20000).
cat >"$clients/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "runxl"]
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "RUNXL_INIT=$RUNXL_INIT"]
[engine.runtimes]
runxl = ["$clients/bin/runxl"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = "$clients/cni"
EOF
cat >"$clients/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$clients/podman-run"
graphroot = "$clients/podman-graph"
EOF
export CONTAINERS_CONF=$clients/containers.conf CONTAINERS_STORAGE_CONF=$clients/storage.conf
# Every client call is bounded, so a hang costs one check, not the whole lab run.
pm() { timeout -k 5 180 podman --runtime runxl --root "$clients/podman-graph" --runroot "$clients/podman-run" "$@"; }
podman_domains() { xl list | awk 'NR > 2 { print $1 }' | grep -c . ; }
# podman passes no --root: runxl's default, as runc's is /run/runc. (containerd's shim passes
# /run/containerd/runc/NAMESPACE.)
runxl_state_empty() { [ -z "$(ls -A /run/runxl 2>/dev/null)" ]; }
# layout_archive LAYOUT NAME: $clients/NAME.tar, the OCI layout with its image named NAME (the
# test layouts all name theirs "latest"), for `podman load` and `ctr images import`.
layout_archive() {
  rm -rf "${clients:?}/$2"
  cp -r "$1" "$clients/$2"
  sed -i "s/\"org.opencontainers.image.ref.name\": \"latest\"/\"org.opencontainers.image.ref.name\": \"$2\"/" "$clients/$2/index.json"
  tar -C "$clients/$2" -cf "$clients/$2.tar" .
}

# start_containerd: containerd as the README documents it for ctr (the CRI plugin off), its
# state under $clients/containerd ($ctrd), `c` as its ctr, the busybox image imported
# ($ctr_image) and $containerd_pid to stop it with.
start_containerd() {
  ctrd=$clients/containerd
  mkdir -p "$ctrd"
  cat >"$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctrd/containerd.sock"
EOF
  RUNXL_INIT=$RUNXL_INIT containerd --config "$ctrd/config.toml" >"$ctrd/log" 2>&1 &
  containerd_pid=$!
  c() { timeout -k 5 180 ctr --address "$ctrd/containerd.sock" "$@"; }
  for _ in $(seq 1 100); do c version >/dev/null 2>&1 && break; sleep 0.2; done
  c images import --all-platforms "$work/images/busybox-oci.tar" >/tmp/ctr.import 2>&1 || fail "ctr import: $(tail -c 400 /tmp/ctr.import)"
  ctr_image=$(c images ls -q | head -n 1)
}
# cgroup2 for podman's cgroupfs manager (the lab's dom0 init mounts none).
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null

echo "== podman: load the busybox image"
if pm load -i "$work/images/busybox-oci.tar" >/tmp/pm.load 2>&1; then
  image=$(awk '/Loaded image/ { print $NF }' /tmp/pm.load)
  pass "podman load ($image)"
else
  fail "podman load: $(tail -c 400 /tmp/pm.load)"
  image=localhost/latest
fi

podman_setup_done=1
