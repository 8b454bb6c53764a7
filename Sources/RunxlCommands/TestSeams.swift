public import Hypervisor
public import RunxlBase
import Synchronization

/// The switches that only the test build turns on: `runxl-testing` (Sources/RunxlTesting) installs
/// them before it runs the CLI; the shipped `runxl` never does, so no environment variable can
/// swap its hypervisor for the double or loosen its supervisor's seccomp filter.
///
/// - `makeHypervisor`: with it, `RUNXL_HYPERVISOR=fake` selects the file-backed double (its files
///   under `RUNXL_FAKE_DIR`, default `/tmp/runxl-fake`), for the CLI tests on hosts without Xen.
/// - `supervisorConfinementOverride`: with it, `RUNXL_SUPERVISOR_SECCOMP=0` turns the supervisor's
///   confinement off and `=log` has the kernel log each unlisted call (how the list is audited).
///
/// Kill injection (`RUNXL_INJECT_KILL`) is armed the same way, by `KillInjection.arm()`.
public struct TestSeams: Sendable {
    public var makeHypervisor: (@Sendable (_ directory: String) throws(RunxlError) -> any Hypervisor)?
    public var supervisorConfinementOverride: Bool

    public init(
        makeHypervisor: (@Sendable (_ directory: String) throws(RunxlError) -> any Hypervisor)? = nil,
        supervisorConfinementOverride: Bool = false
    ) {
        self.makeHypervisor = makeHypervisor
        self.supervisorConfinementOverride = supervisorConfinementOverride
    }

    /// Set once by `RunxlMain.main` before any verb runs.
    private static let installed = Mutex(TestSeams())

    static var current: TestSeams { installed.withLock { $0 } }

    static func install(_ seams: TestSeams) {
        installed.withLock { $0 = seams }
    }
}
