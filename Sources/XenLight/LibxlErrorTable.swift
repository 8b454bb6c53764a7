internal import CXenLight
public import RunxlBase

/// A failed libxl call, kept as the `cause` of a `RunxlError`.
///
/// libxl's return codes are coarse (most failures are `ERROR_FAIL`), so the error-level lines libxl
/// logged during the call travel with the number: they are what says *which* thing failed.
public struct LibxlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libxl function that failed, e.g. `libxl_domain_create_new`.
    public let function: String
    /// libxl's negative error number, e.g. -3.
    public let number: Int
    /// The `ERROR_*` name of `number`, or `ERROR_UNKNOWN(n)` for a number this libxl did not define.
    public let name: String
    /// Warnings and errors libxl logged during the call, oldest first.
    public let log: [String]

    public init(function: String, number: Int, log: [String] = []) {
        self.function = function
        self.number = number
        self.name = LibxlErrorTable.row(for: number)?.name ?? "ERROR_UNKNOWN(\(number))"
        self.log = log
    }

    public var description: String {
        let head = "\(function) failed with libxl \(name) (\(number))"
        guard !log.isEmpty else { return head }
        return head + "; libxl said: " + log.joined(separator: " | ")
    }
}

/// The one place where libxl's error numbers meet runxl's codes; docs/libxl-errors.md renders it.
///
/// Numbers are libxl's `enum libxl_error` (`_libxl_types.h`, Xen 4.17). A test checks that every
/// name libxl itself knows is in the table under the same number, so a newer libxl that adds one
/// fails the test instead of silently falling back to `.hypervisorFailed`.
public enum LibxlErrorTable {
    public struct Row: Sendable, Equatable {
        public let number: Int
        public let name: String
        public let code: RunxlError.Code
        /// What the error means to someone running containers.
        public let meaning: String
    }

    public static let rows: [Row] = [
        Row(number: -1, name: "ERROR_NONSPECIFIC", code: .hypervisorFailed,
            meaning: "libxl failed without saying why; its log has the details"),
        Row(number: -2, name: "ERROR_VERSION", code: .hypervisorFailed,
            meaning: "the libxl library does not match the API version runxl was built for"),
        Row(number: -3, name: "ERROR_FAIL", code: .hypervisorFailed,
            meaning: "generic failure; refined to outOfMemory or invalidKernel from libxl's log when it says so"),
        Row(number: -4, name: "ERROR_NI", code: .unsupported,
            meaning: "not implemented by this libxl or for this guest type"),
        Row(number: -5, name: "ERROR_NOMEM", code: .outOfMemory,
            meaning: "dom0 ran out of memory inside the toolstack"),
        Row(number: -6, name: "ERROR_INVAL", code: .invalidDomainConfig,
            meaning: "libxl rejected an argument or the domain configuration"),
        Row(number: -7, name: "ERROR_BADFAIL", code: .hypervisorFailed,
            meaning: "a failure libxl could not clean up after; check for leftover domains"),
        Row(number: -8, name: "ERROR_GUEST_TIMEDOUT", code: .timeout,
            meaning: "the guest did not answer in time (e.g. a shutdown request)"),
        Row(number: -9, name: "ERROR_TIMEDOUT", code: .timeout,
            meaning: "a toolstack operation (hotplug script, device) took too long"),
        Row(number: -10, name: "ERROR_NOPARAVIRT", code: .unsupported,
            meaning: "the guest has no PV drivers to receive the request"),
        Row(number: -11, name: "ERROR_NOT_READY", code: .hypervisorFailed,
            meaning: "no event is ready yet (used inside the event loop only)"),
        Row(number: -12, name: "ERROR_OSEVENT_REG_FAIL", code: .hypervisorFailed,
            meaning: "libxl could not register a file descriptor or timeout with the event loop"),
        Row(number: -13, name: "ERROR_BUFFERFULL", code: .internal,
            meaning: "the poll array given to libxl was too small (runxl retries with a larger one)"),
        Row(number: -14, name: "ERROR_UNKNOWN_CHILD", code: .internal,
            meaning: "a child process libxl did not start was reported to it"),
        Row(number: -15, name: "ERROR_LOCK_FAIL", code: .hypervisorFailed,
            meaning: "libxl could not take its per-domain lock under /var/lib/xen"),
        Row(number: -16, name: "ERROR_JSON_CONFIG_EMPTY", code: .hypervisorFailed,
            meaning: "the domain's stored libxl configuration is missing"),
        Row(number: -17, name: "ERROR_DEVICE_EXISTS", code: .invalidDomainConfig,
            meaning: "a device with that name or id already exists in the domain"),
        Row(number: -18, name: "ERROR_CHECKPOINT_DEVOPS_DOES_NOT_MATCH", code: .unsupported,
            meaning: "checkpointing (Remus/COLO) device mismatch"),
        Row(number: -19, name: "ERROR_CHECKPOINT_DEVICE_NOT_SUPPORTED", code: .unsupported,
            meaning: "checkpointing (Remus/COLO) does not support a device"),
        Row(number: -20, name: "ERROR_VNUMA_CONFIG_INVALID", code: .invalidDomainConfig,
            meaning: "the virtual NUMA layout is invalid"),
        Row(number: -21, name: "ERROR_DOMAIN_NOTFOUND", code: .domainNotFound,
            meaning: "no domain with that id exists"),
        Row(number: -22, name: "ERROR_ABORTED", code: .hypervisorFailed,
            meaning: "the operation was aborted; the domain may be half-created"),
        Row(number: -23, name: "ERROR_NOTFOUND", code: .hypervisorFailed,
            meaning: "something the operation needs (a device, a xenstore entry) was not found"),
        Row(number: -24, name: "ERROR_DOMAIN_DESTROYED", code: .domainNotFound,
            meaning: "the domain was destroyed while the operation ran"),
        Row(number: -25, name: "ERROR_FEATURE_REMOVED", code: .unsupported,
            meaning: "the feature was removed from this libxl"),
        Row(number: -26, name: "ERROR_PROTOCOL_ERROR_QMP", code: .hypervisorFailed,
            meaning: "QEMU's QMP socket spoke an unexpected protocol"),
        Row(number: -27, name: "ERROR_UNKNOWN_QMP_ERROR", code: .hypervisorFailed,
            meaning: "QEMU returned an error libxl does not know"),
        Row(number: -28, name: "ERROR_QMP_GENERIC_ERROR", code: .hypervisorFailed,
            meaning: "QEMU returned a generic error"),
        Row(number: -29, name: "ERROR_QMP_COMMAND_NOT_FOUND", code: .unsupported,
            meaning: "QEMU does not know the command (too old a device model)"),
        Row(number: -30, name: "ERROR_QMP_DEVICE_NOT_ACTIVE", code: .hypervisorFailed,
            meaning: "the QEMU device is not active"),
        Row(number: -31, name: "ERROR_QMP_DEVICE_NOT_FOUND", code: .hypervisorFailed,
            meaning: "QEMU does not have the device"),
        Row(number: -32, name: "ERROR_QEMU_API", code: .hypervisorFailed,
            meaning: "a QEMU API call failed"),
    ]

    public static func row(for number: Int) -> Row? {
        let index = -number - 1
        guard rows.indices.contains(index), rows[index].number == number else {
            return rows.first { $0.number == number }
        }
        return rows[index]
    }

    /// The runxl code for a libxl error number; unknown numbers are `.hypervisorFailed`.
    public static func code(for number: Int) -> RunxlError.Code {
        row(for: number)?.code ?? .hypervisorFailed
    }
}

extension LibxlErrorTable {
    /// libxl's own name for an error number (`libxl_error_to_string`), nil for numbers it does
    /// not define, or when libxenlight cannot be loaded; lets tests hold the table against the
    /// library actually loaded.
    static func libraryName(of number: Int) -> String? {
        guard (try? XenLightLibraries.load()) != nil else { return nil }
        guard let name = rx_libxl_error_to_string(libxl_error(rawValue: Int32(number))) else { return nil }
        return "ERROR_" + String(cString: name).uppercased()
    }

    /// The table as Markdown, the form docs/libxl-errors.md embeds.
    public static var markdown: String {
        var lines = ["| libxl error | number | runxl code | meaning |", "| --- | --- | --- | --- |"]
        for row in rows {
            lines.append("| `\(row.name)` | \(row.number) | \(row.code) `.\(codeName(row.code))` | \(row.meaning) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func codeName(_ code: RunxlError.Code) -> String {
        switch code {
        case .hypervisorFailed: "hypervisorFailed"
        case .unsupported: "unsupported"
        case .outOfMemory: "outOfMemory"
        case .invalidDomainConfig: "invalidDomainConfig"
        case .timeout: "timeout"
        case .domainNotFound: "domainNotFound"
        case .internal: "internal"
        case .invalidKernel: "invalidKernel"
        default: "\(code)"
        }
    }
}
