/// Every key that marks an image or bundle as a unikernel, runxl's own and the conventions users
/// already package with, defined once. docs/unikernels.md documents the same list; the
/// recognizer, the image paths and the tests refer to these constants, never to string copies.
public enum UnikernelAnnotations {
    /// runxl's own convention: `type` and `binary` are required, the rest optional.
    public enum Runxl {
        public static let prefix = "org.runxl.unikernel."
        /// `unikraft`, `mirage`, `rumprun`, `mini-os` or `xen-elf` (`UnikernelKind`).
        public static let type = prefix + "type"
        /// Absolute path inside the rootfs of the Xen PV/PVH ELF to boot.
        public static let binary = prefix + "binary"
        /// Absolute path inside the rootfs of an initrd handed to the unikernel.
        public static let initrd = prefix + "initrd"
        /// Absolute path inside the rootfs of a disk image attached as `xvda`.
        public static let block = prefix + "block"
        /// Where the flavour mounts the block device, when it mounts one (rumprun).
        public static let blockMountPoint = prefix + "block.mountpoint"
        /// Kernel parameters before the application's arguments, space-separated words
        /// (Unikraft library parameters such as `netdev.ip=...`, Mini-OS options).
        public static let parameters = prefix + "parameters"

        public static let all = [type, binary, initrd, block, blockMountPoint, parameters]
    }

    /// urunc's (github.com/urunc-dev/urunc, pkg/unikontainers/config.go): the same keys appear
    /// as annotations or labels, or in `/urunc.json` in the rootfs with base64 values.
    public enum Urunc {
        public static let prefix = "com.urunc.unikernel."
        public static let type = prefix + "unikernelType"
        public static let version = prefix + "unikernelVersion"
        public static let binary = prefix + "binary"
        /// The application's command line, used when the OCI process has no arguments.
        public static let cmdline = prefix + "cmdline"
        public static let hypervisor = prefix + "hypervisor"
        public static let initrd = prefix + "initrd"
        public static let block = prefix + "block"
        public static let blockMountPoint = prefix + "blkMntPoint"
        /// The file in the rootfs's top directory that holds the keys when annotations are lost.
        public static let configFile = "/urunc.json"

        public static let all = [type, version, binary, cmdline, hypervisor, initrd, block, blockMountPoint]
    }

    /// kraftkit's (github.com/unikraft/kraftkit, oci/wellknown.go, oci/annotations.go): the
    /// kernel at a well-known path, its layer annotated with that path, the image config's `os`
    /// naming the platform (`xen`, `qemu`, `fc`, ...).
    public enum Kraftkit {
        public static let kernelPath = "/unikraft/bin/kernel"
        public static let initrdPath = "/unikraft/bin/initrd"
        /// On the kernel's layer (and accepted on the manifest): the kernel's path in the image.
        public static let kernel = "org.unikraft.kernel.image"
        public static let initrd = "org.unikraft.kernel.initrd"
        public static let version = "org.unikraft.kernel.version"
        public static let platform = "org.unikraft.kernel.plat"
        /// Image config `os` values that name a kraftkit platform rather than an operating system.
        public static let platforms: Set<String> = ["xen", "qemu", "kvm", "fc", "firecracker", "kraftcloud", "linuxu", "xen-pvh"]

        public static let all = [kernel, initrd, version, platform]
    }

    /// Whether an image annotation or label is one the recognizer reads, so the image paths copy
    /// only these into a bundle's config.json.
    public static func isRecognized(_ key: String) -> Bool {
        key.hasPrefix(Runxl.prefix) || key.hasPrefix(Urunc.prefix) || Kraftkit.all.contains(key)
    }
}
