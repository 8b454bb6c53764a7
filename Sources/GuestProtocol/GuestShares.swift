/// What host and init agree on when the container's files are shared live over Xen 9pfs
/// (share mode): two shares, their tags, where init mounts them and what the control share holds.
///
/// The root share is the container's rootfs; it becomes the guest's `/`. The control share is
/// runxl's: the process description (the initramfs then holds only init and modules, the same
/// file for every container) and, under `binds/`, one entry per bind mount whose source the host
/// has bind-mounted there (a directory or a single file), which init mounts at the spec's
/// destination in the spec's order.
public enum GuestShares {
    public static let rootTag = "runxl-root"
    public static let controlTag = "runxl-control"
    /// Where init mounts the shares inside the initramfs, before the root one becomes `/`.
    public static let rootMountPoint = "/.runxl/root"
    public static let controlMountPoint = "/.runxl/control"
    /// The process description, inside the control share.
    public static let processFileName = "process"
    /// The bind sources, inside the control share: `binds/0/NAME`, `binds/1/NAME`, ... where NAME
    /// is the last component of the host source (`bindEntryName`).
    public static let bindsDirectoryName = "binds"

    /// The directory of entry `index` inside the control share: `binds/INDEX`.
    public static func bindDirectory(_ index: Int) -> String {
        bindsDirectoryName + "/" + String(index)
    }

    /// Entry `index` inside the control share: `binds/INDEX/NAME`.
    public static func bindEntry(_ index: Int, hostSource: String) -> String {
        bindDirectory(index) + "/" + bindEntryName(hostSource)
    }

    /// How the guest names the source of bind entry `index` in the process description. Once the
    /// root share is `/`, init reaches it through a descriptor it kept (`/proc/self/fd/N/...`).
    public static func bindSource(_ index: Int, hostSource: String) -> String {
        controlMountPoint + "/" + bindEntry(index, hostSource: hostSource)
    }

    /// The source's own name, so that the guest's mount table shows a bind's root ending as the
    /// host path does (`/binds/3/etc` for `/etc`), as a runc container's shows `/etc`: tools
    /// and runtime-tools match binds that way. `source` for `/` and names that are no name.
    public static func bindEntryName(_ hostSource: String) -> String {
        let name = hostSource.split(separator: "/").last.map(String.init) ?? ""
        return name.isEmpty || name == "." || name == ".." ? "source" : name
    }

    /// A pod's further containers (docs/pods.md), inside the sandbox's control share: `pod/ID`
    /// for each, where dom0 binds its rootfs (`pod/ID/root`) and its bind sources
    /// (`pod/ID/binds/N/NAME`) into the running backend's mount namespace. The guest sees them
    /// as directories of the share, so no device has to be added to a running domain.
    public static let podDirectoryName = "pod"

    /// `pod/ID` inside the control share.
    public static func podMemberDirectory(_ id: String) -> String {
        podDirectoryName + "/" + id
    }

    /// Where a pod member's process description names its bind sources: entry `index` is this
    /// followed by `INDEX/NAME`.
    public static func podMemberBindsPrefix(_ id: String) -> String {
        controlMountPoint + "/" + podMemberDirectory(id) + "/" + bindsDirectoryName + "/"
    }

    /// How a pod member's process description names its bind entry `index`.
    public static func podMemberBindSource(_ id: String, index: Int, hostSource: String) -> String {
        podMemberBindsPrefix(id) + String(index) + "/" + bindEntryName(hostSource)
    }

    /// 9p2000.L over the Xen transport. `cache=mmap` keeps no metadata in the guest, so host-side
    /// changes are seen at once as with `none`, and also gives shared writable mmap (databases,
    /// `ld.so` caches), which `none` refuses. `loose` caches metadata (stale host changes) and
    /// its writes took 41 s for 64 MiB on Linux 6.1 in the lab (shared/docs/xen-lab.md).
    public static let mountOptions = "trans=xen,version=9p2000.L,msize=262144,cache=mmap"

    /// The guest kernel's modules for 9p over Xen, in the names modprobe knows (their
    /// dependencies, netfs and fscache on 6.1, come from modules.dep).
    public static let guestModules = [transportModule, "9p"]
    /// 9P's Xen transport: loading it probes the guest's 9pfs devices, which connects them.
    public static let transportModule = "9pnet_xen"
}
