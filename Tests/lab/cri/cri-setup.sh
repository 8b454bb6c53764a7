# A private containerd 1.6 with its CRI plugin on, for driving runxl through cri-client.py.
# Sourced; it defines functions and runs nothing. Root, state, socket, CNI config, IPAM leases and
# network namespaces live under one directory. Outside it, whatever the config says: the shims'
# sockets (/run/containerd/s/), the runtime's --root (/run/containerd/runc/k8s.io), libcni's
# cache (/var/lib/cni/results), the bridge's link (cri0) and cgroups (/k8s.io/ID per controller).
#
#   cri_render_config DIR   writes DIR/config.toml from:
#     CRI_SANDBOX_IMAGE   the pause image; must already be in the k8s.io namespace (no pulls here)
#     CRI_RUNXL           runxl binary: adds runtime handler "runxl" (the runc v2 shim with
#                         BinaryName=$CRI_RUNXL); handler "runc" (plain runc) is always there
#     CRI_CNI_BIN_DIR     default /usr/lib/cni (Debian's containernetworking-plugins)
#     CRI_CNI_CONF_DIR    default DIR/net.d
#     CRI_SNAPSHOTTER     default overlayfs; "native" where overlay can't stack (9p, overlay)
#     CRI_DISABLE_CGROUP  true when there is no usable cgroup hierarchy (default false)
#     CRI_RESTRICT_OOM_SCORE_ADJ  true when containerd lacks CAP_SYS_RESOURCE (default false)
#     CRI_PASS_ANNOTATIONS  TOML strings, e.g. '"runxl.*", "runxl.*/*"': the pod annotations
#                         (into sandbox and containers) and container annotations that CRI copies
#                         into the runxl handler's config.json files; none by default. Patterns are
#                         Go path.Match globs, so "*" stops at "/": "runxl.*" misses "runxl.io/x".
#   cri_render_cni DIR SUBNET   writes DIR/net.d/10-cri.conflist: bridge + host-local in SUBNET
#   cri_start DIR               starts containerd (log DIR/containerd.log), waits for the socket
#   cri_import DIR TAR...       imports docker-archive/OCI tars into the k8s.io namespace
#   cri_stop DIR                removes every pod, stops that containerd and any shim it left
cri_py=/usr/bin/python3 # Debian's: python3-grpcio and python3-grpc-tools
cri_client="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cri-client.py"
cri() { "$cri_py" "$cri_client" --socket "$cri_dir/containerd.sock" "$@"; }

cri_render_config() {
  cri_dir=$1
  local cni_conf=${CRI_CNI_CONF_DIR:-$1/net.d}
  mkdir -p "$1" "$cni_conf"
  cat >"$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$1/state"
# Plugins that only log failures on a machine without them.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$1/containerd.sock"
[ttrpc]
  address = "$1/containerd.sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  # Only images already imported: there is no registry to pull the default registry.k8s.io/pause.
  sandbox_image = "${CRI_SANDBOX_IMAGE:?CRI_SANDBOX_IMAGE must name the pause image}"
  # The streaming server (Exec/Attach/PortForward URLs; ExecSync doesn't use it) starts anyway:
  # loopback and a free port (1.6's defaults, kept explicit: a fixed port would collide).
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Else, on a host with AppArmor, CRI loads its own default profile and names it in each spec.
  disable_apparmor = true
  # CRI gives the pause process oom_score_adj -998, which needs CAP_SYS_RESOURCE (runc fails
  # with "can't get final child's PID from pipe: EOF" without it); true clamps the values to
  # containerd's own instead: for a containerd without that capability or in a user namespace.
  restrict_oom_score_adj = ${CRI_RESTRICT_OOM_SCORE_ADJ:-false}
  disable_cgroup = ${CRI_DISABLE_CGROUP:-false}
  # A kernel without the hugetlb controller must not fail every container.
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  # Pod network namespaces under DIR/state instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CRI_CNI_BIN_DIR:-/usr/lib/cni}"
    conf_dir = "$cni_conf"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${CRI_SNAPSHOTTER:-overlayfs}"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
EOF
  [ -n "${CRI_RUNXL:-}" ] && cat >>"$1/config.toml" <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runxl]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = [${CRI_PASS_ANNOTATIONS:-}]
      container_annotations = [${CRI_PASS_ANNOTATIONS:-}]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runxl.options]
        # The shim runs BinaryName with runc's command line, --root /run/containerd/runc/k8s.io
        # included (options.Root replaces /run/containerd/runc).
        BinaryName = "$CRI_RUNXL"
        # cgroupfs paths (/k8s.io/ID or the pod's cgroup parent), not systemd slices.
        SystemdCgroup = false
EOF
  return 0
}

cri_render_cni() {
  mkdir -p "$1/net.d"
  # CRI's RunPodSandbox fails unless the network gives eth0 an address. No gateway and no
  # masquerade: the pods talk only among themselves and to their own loopback.
  cat >"$1/net.d/10-cri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cri-lab",
  "plugins": [
    {
      "type": "bridge", "bridge": "cri0", "isGateway": false, "ipMasq": false,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$2"}]], "dataDir": "$1/ipam"}
    }
  ]
}
EOF
}

cri_start() {
  cri_dir=$1
  containerd --config "$1/config.toml" >"$1/containerd.log" 2>&1 &
  cri_containerd_pid=$!
  # Bounded by time, not tries: each `cri` call starts Python and runs protoc (seconds in the
  # lab's emulated dom0); a containerd that died is not waited for.
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$cri_containerd_pid" 2>/dev/null; do
    [ -S "$1/containerd.sock" ] && cri version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "containerd's CRI did not answer on $1/containerd.sock:" >&2
  tail -n 20 "$1/containerd.log" >&2
  return 1
}

cri_import() {
  local dir=$1 tar
  shift
  for tar in "$@"; do
    ctr --address "$dir/containerd.sock" -n k8s.io images import "$tar" >/dev/null || return 1
  done
}

cri_stop() {
  cri_dir=$1
  # Pods first, through CRI: their shims, pause processes and network namespaces go with them.
  local pod pid
  for pod in $(cri pods -q 2>/dev/null); do
    cri stop-pod "$pod" && cri remove-pod "$pod"
  done
  [ -n "${cri_containerd_pid:-}" ] && kill "$cri_containerd_pid" 2>/dev/null && wait "$cri_containerd_pid" 2>/dev/null
  # A shim left over would outlive containerd: those whose -address is this containerd's socket.
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $1/containerd.sock"); do kill "$pid"; done
  cri_containerd_pid=
}
