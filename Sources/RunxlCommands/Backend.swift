import Hypervisor
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Chooses the hypervisor backend and opens it only when a verb needs it, so that verbs which
/// only read state (`state`, `list`) never pay for a libxl context.
///
/// Xen, except in the test build, where `RUNXL_HYPERVISOR=fake` selects the file-backed double
/// (`TestSeams.makeHypervisor`).
enum Backend {
    static var selectedName: String {
        guard TestSeams.current.makeHypervisor != nil, let value = getenv("RUNXL_HYPERVISOR") else { return "xen" }
        return String(cString: value) == "fake" ? "fake" : "xen"
    }

    static func engine(_ global: GlobalOptions) throws(RunxlError) -> ContainerEngine {
        let store = StateStore(root: global.root)
        let logger = global.logger
        let engine: ContainerEngine
        if selectedName == "fake", let makeHypervisor = TestSeams.current.makeHypervisor {
            let directory = getenv("RUNXL_FAKE_DIR").map { String(cString: $0) } ?? "/tmp/runxl-fake"
            engine = ContainerEngine(
                store: store, hypervisor: try makeHypervisor(directory), hypervisorName: "fake",
                preparer: ValidatingGuestPreparer())
        } else {
            engine = ContainerEngine(
                store: store, hypervisor: try XenBackend.open(logger: logger), hypervisorName: "xen",
                preparer: try XenBackend.preparer(logger: logger))
        }
        engine.warn = { logger.warning($0) }
        if global.debug {
            engine.trace = PhaseTrace { logger.debugMessage($0) }
            engine.trace.mark("\(engine.hypervisorName) backend open")
        }
        return engine
    }

    /// An engine for verbs that only read records: no hypervisor is opened until one is used.
    static func readOnlyEngine(_ global: GlobalOptions) -> ContainerEngine {
        ContainerEngine(
            store: StateStore(root: global.root), hypervisor: UnopenedHypervisor(), hypervisorName: selectedName,
            preparer: ValidatingGuestPreparer())
    }
}
