/// What host and init agree on for VM templates (issue 17's lever 2): a share-mode guest booted
/// once with no container, saved by the host once init is ready, and restored for each container
/// with that container's shares and vifs in the restore's domain config. A restore skips the
/// kernel's boot, most of a guest's start (docs/fast-start.md).
///
/// The template's kernel command line carries `commandLineFlag`. Init then loads its modules,
/// reports `GuestReport.templateReady` and waits for `HostMessage.resumeFromTemplate`, which the
/// host writes into each restored copy before unpausing it.
public enum GuestTemplate {
    /// The word on the template's kernel command line; the kernel passes it on to init unread.
    public static let commandLineFlag = "runxl.template"
    /// The Xen domain name of a template while it boots and is saved, followed by its key.
    public static let domainNamePrefix = "runxl-template-"
    /// The fresh randomness each restored copy gets, in bytes (256 bits, a full CRNG seed).
    public static let seedBytes = 32

    /// The word on a warm VM's kernel command line (`WarmPool`): a guest booted ahead of any
    /// container, whose init reports `GuestReport.templateReady` and then waits for
    /// `HostMessage.resumeFromTemplate`, as a template does, but is never saved: the host hands
    /// the running guest to the next container of its shape.
    public static let warmFlag = "runxl.warm"

    /// Whether a kernel command line (`/proc/cmdline`) is a template's.
    public static func isTemplate(commandLine: String) -> Bool {
        has(commandLineFlag, in: commandLine)
    }

    /// Whether a kernel command line is a warm VM's.
    public static func isWarm(commandLine: String) -> Bool {
        has(warmFlag, in: commandLine)
    }

    private static func has(_ flag: String, in commandLine: String) -> Bool {
        commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).contains { $0 == Substring(flag) }
    }
}
