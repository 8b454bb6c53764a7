internal import CXenLight
import Glibc
public import Hypervisor
public import RunxlBase

/// The `Hypervisor` backed by libxl: the only code in runxl that talks to Xen's toolstack.
///
/// One instance holds one libxl context, its logger and one xenstore connection for the life of
/// the process. libxl documents `libxl_ctx` as thread-safe and libxenstore locks its handle, and
/// those pointers never change after `init`, so the class needs no lock of its own.
public final class XenLightHypervisor: Hypervisor, @unchecked Sendable {
    let context: OpaquePointer
    private let logger: UnsafeMutablePointer<xentoollog_logger>
    let store: OpaquePointer
    let log: LibxlLog

    /// Loads and opens libxl and xenstore.
    ///
    /// - Parameters:
    ///   - logLevel: the least severe libxl message passed to `log`. libxl is chatty below
    ///     `.warning`; warnings and errors are also kept with any error thrown, whatever this is.
    ///   - log: receives libxl's messages, one line each, from whichever thread made the call.
    /// - Throws: `.notXenHost` when this machine is not a Xen dom0 or has no Xen libraries.
    public init(
        logLevel: XenLightLogLevel = .error,
        log: @escaping @Sendable (String) -> Void = XenLightHypervisor.logToStandardError
    ) throws(RunxlError) {
        try XenLightLibraries.load()
        let box = LibxlLog(level: logLevel, forward: log)
        guard let logger = runxl_logger_create(LibxlLog.cSink, Unmanaged.passUnretained(box).toOpaque(), box.cLevel)
        else {
            throw RunxlError(.io, "cannot allocate the libxl logger: out of memory")
        }
        var context: OpaquePointer?
        let (rc, records) = box.capturing { rx_libxl_ctx_alloc(&context, Int32(LIBXL_VERSION), 0, logger) }
        guard rc == 0, let context else {
            rx_xtl_logger_destroy(logger)
            let cause = LibxlError(function: "libxl_ctx_alloc", number: Int(rc), log: records.map(\.text))
            if Self.isDom0 {
                throw RunxlError(
                    .hypervisorFailed,
                    "libxl could not start on this Xen dom0; runxl must run as root with xenstored running",
                    cause: cause)
            }
            throw RunxlError(
                .notXenHost,
                "this host is not a Xen dom0 (libxl could not open Xen's privileged command interface); "
                    + "run runxl in dom0 of a Xen host, or use Scripts/xenlab to boot one under QEMU",
                cause: cause)
        }
        runxl_childproc_selective_reap(context)
        guard let store = rx_xs_open(0) else {
            let err = errno
            rx_libxl_ctx_free(context)
            rx_xtl_logger_destroy(logger)
            throw RunxlError(
                .xenstoreFailed, "cannot connect to xenstored; is it running in this dom0?",
                cause: SystemCallError("xs_open", errno: err))
        }
        self.context = context
        self.logger = logger
        self.store = store
        self.log = box
    }

    deinit {
        rx_xs_close(store)
        rx_libxl_ctx_free(context)
        // The logger last: libxl_ctx_free may still log, and the logger points at `log`.
        rx_xtl_logger_destroy(logger)
    }

    /// The default log sink: one line per message on standard error.
    public static let logToStandardError: @Sendable (String) -> Void = { line in
        Descriptors.writeAllIfPossible(2, Array((line + "\n").utf8))
    }

    /// Whether this kernel runs as Xen's control domain, as `/proc/xen/capabilities` says.
    static var isDom0: Bool {
        guard let bytes = try? FileSystem.read("/proc/xen/capabilities") else { return false }
        return String(decoding: bytes, as: UTF8.self).contains("control_d")
    }

    // MARK: libxl calls and their errors

    /// Runs libxl code with SIGCHLD deliverable on this thread and captures what libxl logs.
    ///
    /// libxl forks for some operations (`libxl_domain_destroy` runs `xc_domain_destroy` in a child)
    /// and learns of the child's exit only through its SIGCHLD handler. If every thread of the
    /// process blocks SIGCHLD (a supervisor using signalfd, a thread pool that blocks all signals)
    /// libxl waits forever; unblocking it on the calling thread for the call's duration makes the
    /// signal deliverable exactly where libxl is waiting.
    func libxlCall<T>(_ body: () -> T) -> (T, [LibxlLog.Record]) {
        withChildSignalDeliverable { log.capturing(body) }
    }

    /// Runs one libxl call and turns a non-zero result into a `RunxlError` whose message is
    /// `failure` and whose cause carries libxl's number, name and log lines.
    ///
    /// When the call is about `domain` and that domain turns out not to exist, the error is
    /// `.domainNotFound` whatever libxl returned: many calls report a missing domain as a failed
    /// xenstore read (`ERROR_FAIL`).
    func call(
        _ function: String, _ failure: @autoclosure () -> String, domain: DomainID? = nil, _ body: () -> Int32
    ) throws(RunxlError) {
        let (rc, records) = libxlCall(body)
        guard rc != 0 else { return }
        let error = Self.error(rc, function: function, failure: failure(), records: records)
        if let domain, error.code != .domainNotFound, !exists(domain) {
            throw RunxlError(.domainNotFound, "domain \(domain) does not exist", cause: error.cause)
        }
        throw error
    }

    static func error(_ rc: Int32, function: String, failure: String, records: [LibxlLog.Record]) -> RunxlError {
        let cause = LibxlError(function: function, number: Int(rc), log: records.map(\.text))
        let code = refinedCode(number: Int(rc), records: records)
        return RunxlError(code, failure, cause: cause)
    }

    /// The table's code, narrowed by what libxl logged when the number itself is generic.
    ///
    /// `ERROR_FAIL` covers both "Xen has no memory for this guest" and "this file is not a kernel";
    /// the errno and text of libxl's (and libxenguest's) log lines tell them apart.
    static func refinedCode(number: Int, records: [LibxlLog.Record]) -> RunxlError.Code {
        let code = LibxlErrorTable.code(for: number)
        guard code == .hypervisorFailed else { return code }
        let texts = records.map { $0.text.lowercased() }
        if records.contains(where: { $0.errno == ENOMEM })
            || texts.contains(where: { $0.contains("out of memory") || $0.contains("cannot allocate memory") })
        {
            return .outOfMemory
        }
        let kernelFailures = ["xc_dom_find_loader", "no loader found", "xc_dom_parse_image", "xc_dom_kernel_file"]
        if texts.contains(where: { text in kernelFailures.contains { text.contains($0) } }) {
            return .invalidKernel
        }
        return code
    }

    /// dom0 is the host itself: runxl never pauses, shuts down or destroys it.
    func refuseDom0(_ domain: DomainID, _ verb: String) throws(RunxlError) {
        guard domain.rawValue == 0 else { return }
        throw RunxlError(.unsupported, "runxl does not \(verb) domain 0: it is the Xen host's control domain")
    }

    // MARK: Lifecycle

    public func unpause(_ domain: DomainID) throws(RunxlError) {
        try call("libxl_domain_unpause", "cannot unpause domain \(domain)", domain: domain) {
            rx_libxl_domain_unpause(context, domain.rawValue, nil)
        }
    }

    public func pause(_ domain: DomainID) throws(RunxlError) {
        try refuseDom0(domain, "pause")
        try call("libxl_domain_pause", "cannot pause domain \(domain)", domain: domain) {
            rx_libxl_domain_pause(context, domain.rawValue, nil)
        }
    }

    public func setMemoryTarget(_ domain: DomainID, mebibytes: Int) throws(RunxlError) {
        try refuseDom0(domain, "resize")
        guard mebibytes > 0, mebibytes <= 1 << 20 else {
            throw RunxlError(.invalidDomainConfig, "a memory target of \(mebibytes) MiB for domain \(domain); give between 1 MiB and 1 TiB")
        }
        // enforce=1: Xen's own limit follows the target, as `xl mem-set` does, so a guest that
        // ignored its balloon target still could not take more.
        try call("libxl_set_memory_target", "cannot set the memory target of domain \(domain) to \(mebibytes) MiB", domain: domain) {
            rx_libxl_set_memory_target(context, domain.rawValue, Int64(mebibytes) * 1024, 0, 1)
        }
    }

    public func setAvailableVcpus(_ domain: DomainID, count: Int) throws(RunxlError) {
        try refuseDom0(domain, "resize")
        guard count >= 1, count <= DomainPlan.maximumVCPUs else {
            throw RunxlError(.invalidDomainConfig, "\(count) vCPUs for domain \(domain); give between 1 and \(DomainPlan.maximumVCPUs)")
        }
        var map = libxl_bitmap()
        defer { rx_libxl_bitmap_dispose(&map) }
        try fillVcpuMap(&map, size: count, available: count, of: "domain \(domain)")
        try call("libxl_set_vcpuonline", "cannot make \(count) vCPUs available to domain \(domain)", domain: domain) {
            rx_libxl_set_vcpuonline(context, domain.rawValue, &map, nil)
        }
    }

    /// Allocates `map` for `size` vCPUs with vCPUs 0..<available set: a domain's available vCPUs,
    /// at create and when a pod's VM grows.
    func fillVcpuMap(_ map: inout libxl_bitmap, size: Int, available: Int, of owner: String) throws(RunxlError) {
        try call("libxl_cpu_bitmap_alloc", "cannot allocate the vCPU map of \(owner)") {
            rx_libxl_cpu_bitmap_alloc(context, &map, Int32(size))
        }
        libxl_bitmap_set_none(&map)
        for vcpu in 0..<available { rx_libxl_bitmap_set(&map, Int32(vcpu)) }
    }

    /// Writes the PV shutdown request (`control/shutdown` = `poweroff`) and returns, as a
    /// signal is sent and not waited on. `libxl_domain_shutdown` also waits up to a minute for
    /// the guest to acknowledge and then fails: a unikernel that watches no key (Unikraft's HTTP
    /// server) is a process that ignores SIGTERM, and `podman stop` must be free to go on to KILL
    /// after its own timeout, not find `kill` blocked and failed.
    public func shutdown(_ domain: DomainID) throws(RunxlError) {
        try refuseDom0(domain, "shut down")
        let key = "\(try storePath(domain))/control/shutdown"
        // libxl creates the key with the domain (writable by the guest, which clears it to
        // acknowledge); without it the domain is gone or going, and a write would leave a stray
        // directory behind in xenstore.
        guard exists(domain), try readStore(key) != nil else {
            throw RunxlError(.domainNotFound, "domain \(domain) does not exist")
        }
        try writeStore(key, "poweroff")
    }

    public func destroy(_ domain: DomainID) throws(RunxlError) {
        try refuseDom0(domain, "destroy")
        guard exists(domain) else { return }
        do {
            try call("libxl_domain_destroy", "cannot destroy domain \(domain)", domain: domain) {
                rx_libxl_domain_destroy(context, domain.rawValue, nil)
            }
        } catch where error.code == .domainNotFound {
            // Someone else destroyed it at the same moment: what the caller wanted.
        } catch {
            // Two destroys of one domain (a supervisor ending its container while `delete
            // --force` removes it) race inside libxl, and the loser can fail with a generic
            // error while the winner completes. Xen never reuses a domid at once, so a domain
            // gone once the release settles was destroyed, which is all the caller asked for.
            waitUntilReleased(domain, timeoutSeconds: 10)
            if exists(domain) { throw error }
            return
        }
        waitUntilReleased(domain, timeoutSeconds: 10)
    }

    /// Whether the domain exists; errors other than "not found" count as existing, so that a
    /// caller about to clean up does not skip a domain it could not check.
    func exists(_ domain: DomainID) -> Bool {
        rx_libxl_domain_info(context, nil, domain.rawValue) != ERROR_DOMAIN_NOTFOUND.rawValue
    }

    // MARK: Queries

    public func listDomains() throws(RunxlError) -> [DomainInfo] {
        var count: Int32 = 0
        let (list, records) = libxlCall { rx_libxl_list_domain(context, &count) }
        guard let list else {
            throw Self.error(
                ERROR_FAIL.rawValue, function: "libxl_list_domain", failure: "cannot list Xen domains", records: records)
        }
        defer { rx_libxl_dominfo_list_free(list, count) }
        return (0..<Int(count)).map { domainInfo(from: list[$0]) }
    }

    public func domainInfo(_ domain: DomainID) throws(RunxlError) -> DomainInfo? {
        var info = libxl_dominfo()
        rx_libxl_dominfo_init(&info)
        defer { rx_libxl_dominfo_dispose(&info) }
        let (rc, records) = libxlCall { rx_libxl_domain_info(context, &info, domain.rawValue) }
        if rc == ERROR_DOMAIN_NOTFOUND.rawValue { return nil }
        guard rc == 0 else {
            throw Self.error(
                rc, function: "libxl_domain_info", failure: "cannot get information on domain \(domain)",
                records: records)
        }
        return domainInfo(from: info)
    }

    private func domainInfo(from info: libxl_dominfo) -> DomainInfo {
        let state: DomainRunState =
            if info.dying { .dying } else if info.shutdown { .shutdown } else if info.paused { .paused } else { .running }
        return DomainInfo(
            id: DomainID(info.domid), name: name(of: info.domid), state: state,
            shutdownReason: info.shutdown ? Self.shutdownReason(Int(info.shutdown_reason.rawValue)) : nil,
            memoryKiB: info.current_memkb, vcpus: Int(info.vcpu_online), maxMemoryKiB: info.max_memkb,
            cpuTimeNanoseconds: info.cpu_time)
    }

    private func name(of domid: UInt32) -> String {
        guard let name = rx_libxl_domid_to_name(context, domid) else { return "" }
        defer { free(name) }
        return String(cString: name)
    }

    static func shutdownReason(_ value: Int) -> ShutdownReason {
        switch value {
        case Int(LIBXL_SHUTDOWN_REASON_POWEROFF.rawValue): .poweroff
        case Int(LIBXL_SHUTDOWN_REASON_REBOOT.rawValue): .reboot
        case Int(LIBXL_SHUTDOWN_REASON_SUSPEND.rawValue): .suspend
        case Int(LIBXL_SHUTDOWN_REASON_CRASH.rawValue): .crash
        case Int(LIBXL_SHUTDOWN_REASON_WATCHDOG.rawValue): .watchdog
        case Int(LIBXL_SHUTDOWN_REASON_SOFT_RESET.rawValue): .softReset
        default: .unknown(value)
        }
    }

    public func domainID(named name: String) throws(RunxlError) -> DomainID? {
        var domid: UInt32 = 0
        let (rc, records) = libxlCall { rx_libxl_name_to_domid(context, name, &domid) }
        if rc == 0 { return DomainID(domid) }
        // libxl_name_to_domid reports "no such name" as ERROR_INVAL.
        if rc == ERROR_INVAL.rawValue { return nil }
        throw Self.error(
            rc, function: "libxl_name_to_domid", failure: "cannot look up the domain named '\(name)'",
            records: records)
    }

    public func consolePath(_ domain: DomainID) throws(RunxlError) -> String {
        var path: UnsafeMutablePointer<CChar>?
        try call("libxl_console_get_tty", "cannot find the console of domain \(domain)", domain: domain) {
            rx_libxl_console_get_tty(context, domain.rawValue, 0, LIBXL_CONSOLE_TYPE_PV, &path)
        }
        guard let path else {
            throw RunxlError(.hypervisorFailed, "libxl returned no console path for domain \(domain)")
        }
        defer { free(path) }
        return String(cString: path)
    }
}

/// Runs `body` with SIGCHLD unblocked on the calling thread, then restores the thread's mask.
/// `E` is `Never` for bodies that cannot fail.
func withChildSignalDeliverable<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    var childSignal = sigset_t()
    var previous = sigset_t()
    sigemptyset(&childSignal)
    sigaddset(&childSignal, SIGCHLD)
    pthread_sigmask(SIG_UNBLOCK, &childSignal, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}
