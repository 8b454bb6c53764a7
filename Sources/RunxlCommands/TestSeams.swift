public import Hypervisor
public import RunxlBase
import Synchronization

/// The switches that only the test build turns on: `runxl-testing` (Sources/RunxlTesting) reads
/// its environment and installs them before it runs the CLI. The shipped `runxl` never does, and
/// holds no code that reads those variables (not even their names), so nothing in its environment
/// can swap its hypervisor for the double or loosen its supervisor's seccomp filter.
///
/// - `fakeHypervisor`: the file-backed double every verb uses instead of Xen, for the CLI tests
///   on hosts without Xen.
/// - `supervisorConfinement`: the supervisor's confinement when not the enforced default: off,
///   or a filter that has the kernel log each unlisted call (how the list is audited).
///
/// Kill injection is armed the same way, by `KillInjection.arm(at:)`.
public struct TestSeams: Sendable {
    public var fakeHypervisor: (@Sendable () throws(RunxlError) -> any Hypervisor)?
    public var supervisorConfinement: SupervisorConfinementMode

    public init(
        fakeHypervisor: (@Sendable () throws(RunxlError) -> any Hypervisor)? = nil,
        supervisorConfinement: SupervisorConfinementMode = .enforce
    ) {
        self.fakeHypervisor = fakeHypervisor
        self.supervisorConfinement = supervisorConfinement
    }

    /// Set once by `RunxlMain.main` before any verb runs.
    private static let installed = Mutex(TestSeams())

    static var current: TestSeams { installed.withLock { $0 } }

    static func install(_ seams: TestSeams) {
        installed.withLock { $0 = seams }
    }
}
