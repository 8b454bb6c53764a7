import GuestBuild
import Hypervisor
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Chooses the hypervisor backend and opens it only when a verb needs it, so that verbs which
/// only read state (`state`, `list`) never pay for a libxl context.
///
/// Xen, except in the test build when it installs the file-backed double
/// (`TestSeams.fakeHypervisor`).
enum Backend {
    static var selectedName: String { TestSeams.current.fakeHypervisor == nil ? "xen" : "fake" }

    static func engine(_ global: GlobalOptions) throws(RunxlError) -> ContainerEngine {
        let store = StateStore(root: global.root)
        let logger = global.logger
        let engine: ContainerEngine
        if let fakeHypervisor = TestSeams.current.fakeHypervisor {
            engine = ContainerEngine(
                store: store, hypervisor: try fakeHypervisor(), hypervisorName: "fake", preparer: try preparer(global))
        } else {
            engine = ContainerEngine(
                store: store, hypervisor: try XenBackend.open(logger: logger), hypervisorName: "xen", preparer: try preparer(global))
        }
        engine.warn = { logger.warning($0) }
        engine.warmPool = try warmPool()
        if global.debug {
            engine.trace = PhaseTrace { logger.debugMessage($0) }
            engine.trace.mark("\(engine.hypervisorName) backend open")
        }
        return engine
    }

    /// The host config's warm pool, whose refills run as a detached `runxl warm fill`; nil when
    /// it keeps no warm VMs.
    static func warmPool() throws(RunxlError) -> WarmPool? {
        guard let size = try HostConfig.load().warmPool, size > 0 else { return nil }
        var pool = WarmPool(size: size)
        pool.requestFill = { domain, shape in
            guard let executable = try? Processes.currentExecutable() else { return }
            _ = try? Processes.spawn(
                executable,
                [Warm.spec.name, WarmAction.fill.rawValue, "--\(Warm.afterFlag)", String(domain.rawValue), "--\(Warm.shapeFlag)", shape],
                detachStandardStreams: true)
        }
        return pool
    }

    /// An engine for `exec`: no hypervisor is opened (the supervisor carries the exec to the
    /// guest), but the process is described as the guest builder describes the container's own.
    static func execEngine(_ global: GlobalOptions) throws(RunxlError) -> ContainerEngine {
        ContainerEngine(
            store: StateStore(root: global.root), hypervisor: UnopenedHypervisor(), hypervisorName: selectedName,
            preparer: try preparer(global))
    }

    /// GuestBuild's for Xen; the fake only validates.
    private static func preparer(_ global: GlobalOptions) throws(RunxlError) -> any GuestPreparing {
        guard TestSeams.current.fakeHypervisor != nil else { return try XenBackend.preparer(logger: global.logger) }
        let host = try HostConfig.load()
        return ValidatingGuestPreparer { spec throws(RunxlError) in
            try GuestSettingsResolver.ceilings(annotations: spec.annotations ?? [:], host: host)
        }
    }

    /// An engine for verbs that only read records: no hypervisor is opened until one is used.
    static func readOnlyEngine(_ global: GlobalOptions) -> ContainerEngine {
        ContainerEngine(
            store: StateStore(root: global.root), hypervisor: UnopenedHypervisor(), hypervisorName: selectedName,
            preparer: ValidatingGuestPreparer())
    }
}
