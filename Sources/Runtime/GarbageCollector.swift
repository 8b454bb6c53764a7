import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// What `runxl gc` found and did, one line per item, for the user and for tests.
public struct GarbageReport: Sendable {
    /// Things removed or destroyed.
    public var removed: [String] = []
    /// Things seen and deliberately left (busy, too young, another owner's), with the reason.
    public var kept: [String] = []
    public init() {}
}

/// Restores a clean state after runxl processes died at any step (SIGKILL, OOM, power cut):
/// finishes deletes and creates that were cut short, destroys domains of containers that ended,
/// removes temporary files of dead processes.
///
/// It never touches a live container, and never removes the record of a stopped one: under runc's
/// contract that record is the client's to `delete` (podman reads the exit status from it).
/// Each container is handled under its own lock, taken with a short timeout: one held means a
/// live runxl process is working on it, so it is skipped and reported.
public struct GarbageCollector {
    public let engine: ContainerEngine
    /// Also destroy `runxl-` domains that have no record under this root. Off by default: a
    /// domain of another `--root`, or a converted guest booted with `xl create`, has that name too.
    public var orphanDomains = false
    /// Directories besides the state root where runxl writes temporary files (the guest cache).
    public var temporaryFileDirectories: [String] = []
    /// A container directory without a record is a claim in progress for this long.
    public var recordlessGraceSeconds = 10.0
    public var lockTimeoutSeconds = 0.5

    public init(engine: ContainerEngine) {
        self.engine = engine
    }

    public func run() throws(RunxlError) -> GarbageReport {
        var report = GarbageReport()
        for id in try engine.store.ids() {
            collect(id, into: &report)
        }
        try collectDomains(into: &report)
        for directory in [engine.store.root] + temporaryFileDirectories {
            removeTemporaryFiles(in: directory, depth: 3, into: &report)
        }
        return report
    }

    // MARK: containers

    private func collect(_ id: ContainerID, into report: inout GarbageReport) {
        let store = engine.store
        let lock: FileLock
        do {
            lock = try store.lock(id, timeoutSeconds: lockTimeoutSeconds)
        } catch where error.code == .lockTimeout {
            report.kept.append("container \(id): busy (another runxl process holds its lock)")
            return
        } catch where error.code == .containerNotFound {
            // Neither lock nor record: a claim in progress, or cut short before the lock existed.
            removeRecordless(id, into: &report)
            return
        } catch {
            report.kept.append("container \(id): \(error.message)")
            return
        }
        defer { lock.unlock() }

        if let deleter = store.deletingProcess(id), !Processes.isAlive(deleter.pid, startTime: deleter.startTime) {
            let record = try? store.load(id)
            attempt("finished the interrupted delete of container \(id)", into: &report) { () throws(RunxlError) in
                try engine.removeEverything(of: try record.map { (stored) throws(RunxlError) in try engine.refreshed(stored, id: id) }, id: id)
            }
            return
        }
        let stored: ContainerRecord
        do {
            stored = try store.load(id)
        } catch where error.code == .containerNotFound {
            removeRecordless(id, into: &report)
            return
        } catch {
            report.kept.append("container \(id): record unreadable; `runxl delete --force \(id)` removes it")
            return
        }
        guard let current = try? engine.refreshed(stored, id: id) else { return }
        if stored.status == .creating, current.status == .stopped {
            attempt("removed the interrupted create of container \(id)", into: &report) { () throws(RunxlError) in
                try engine.removeEverything(of: current, id: id)
            }
        } else if current.status == .stopped {
            // The process is over; its domain (if a supervisor died before destroying it) is not.
            do {
                if try liveDomain(of: current, id: id) != nil {
                    try engine.destroyDomain(of: current, id: id)
                    report.removed.append("destroyed the domain of stopped container \(id) (its record stays for delete)")
                }
            } catch {
                report.kept.append("container \(id): cannot destroy its domain: \(error.message)")
            }
        }
    }

    /// A container directory without a record: removed once it is older than a claim takes.
    private func removeRecordless(_ id: ContainerID, into report: inout GarbageReport) {
        let directory = engine.store.directory(id)
        var info = stat()
        guard stat(directory, &info) == 0 else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let age = Double(now.tv_sec - info.st_mtim.tv_sec)
        guard age >= recordlessGraceSeconds else {
            report.kept.append("container \(id): no record yet (a create may be claiming it); run gc again later")
            return
        }
        attempt("removed container directory \(id), which had no record", into: &report) { () throws(RunxlError) in
            try engine.destroyDomain(of: nil, id: id)
            try engine.store.remove(id)
        }
    }

    private func liveDomain(of record: ContainerRecord, id: ContainerID) throws(RunxlError) -> DomainID? {
        if let domain = record.domainID, let info = try engine.hypervisor.domainInfo(domain), info.name == record.domainName {
            return domain
        }
        return try engine.hypervisor.domainID(named: record.domainName ?? DomainNaming.name(for: id))
    }

    // MARK: domains

    private func collectDomains(into report: inout GarbageReport) throws(RunxlError) {
        for domain in try engine.hypervisor.listDomains() where domain.name.hasPrefix(DomainNaming.prefix) {
            // The warm pool's VMs belong to no root: `runxl warm drain` stops them.
            if domain.name.hasPrefix(WarmPool.domainNamePrefix) {
                report.kept.append("domain \(domain.name) (\(domain.id)) is a warm VM; runxl warm drain stops the idle ones")
                continue
            }
            let idText = String(domain.name.dropFirst(DomainNaming.prefix.count))
            // A record (live or not) owns its domain; it was handled above.
            if let id = try? ContainerID(idText), engine.store.exists(id) { continue }
            guard orphanDomains else {
                report.kept.append(
                    "domain \(domain.name) (\(domain.id)) has no record under \(engine.store.root); "
                        + "gc --orphan-domains destroys it (it may be another root's or an xl-created guest)")
                continue
            }
            attempt("destroyed domain \(domain.name) (\(domain.id)), which had no record", into: &report) { () throws(RunxlError) in
                try engine.hypervisor.destroy(domain.id)
            }
        }
    }

    // MARK: temporary files

    /// Files and directories named `NAME.PID.runxl-tmp` (FileSystem.writeAtomically, the initramfs
    /// and kernel caches) whose process is gone: what a write cut short leaves.
    private func removeTemporaryFiles(in directory: String, depth: Int, into report: inout GarbageReport) {
        guard depth > 0, let names = try? FileSystem.listDirectory(directory) else { return }
        for name in names {
            let path = directory + "/" + name
            if name.hasSuffix(FileSystem.temporarySuffix) {
                let stem = name.dropLast(FileSystem.temporarySuffix.count)
                guard let dot = stem.lastIndex(of: "."), let pid = Int32(stem[stem.index(after: dot)...]) else { continue }
                if Processes.isAlive(pid, startTime: nil) {
                    report.kept.append("temporary file \(path): its process \(pid) is still running")
                    continue
                }
                attempt("removed temporary file \(path)", into: &report) { () throws(RunxlError) in
                    try FileSystem.removeTree(path)
                }
            } else if FileSystem.isDirectory(path) {
                var info = stat()
                // Never follow a symlink out of the directory being cleaned.
                guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
                removeTemporaryFiles(in: path, depth: depth - 1, into: &report)
            }
        }
    }

    private func attempt(_ done: String, into report: inout GarbageReport, _ body: () throws(RunxlError) -> Void) {
        do {
            try body()
            report.removed.append(done)
        } catch {
            report.kept.append("failed: \(done): \(error.message)")
        }
    }
}
