/// The config.json annotations runxl reads. Defined once here: docs, validation and `features`
/// refer to these constants, never to string copies.
public enum RunxlAnnotations {
    /// `pv` or `pvh`.
    public static let guestType = "org.runxl.guest.type"
    /// Path in dom0 of the guest kernel (ELF or bzImage).
    public static let kernel = "org.runxl.kernel"
    /// Guest memory in MiB (a positive integer).
    public static let memory = "org.runxl.memory"
    /// Number of virtual CPUs (a positive integer).
    public static let vcpus = "org.runxl.vcpus"
    /// Appended to the guest kernel command line.
    public static let cmdlineExtra = "org.runxl.cmdline.extra"
    /// `none`, `gzip`, `zstd` or `lz4`: how the initramfs is compressed.
    public static let initramfsCompression = "org.runxl.initramfs.compression"

    public static let all = [guestType, kernel, memory, vcpus, cmdlineExtra, initramfsCompression]
}
