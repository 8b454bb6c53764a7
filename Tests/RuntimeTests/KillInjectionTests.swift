import Glibc
import Testing

@testable import Runtime

/// Kill points fire only once armed, which only `runxl-testing` does at start (from
/// `RUNXL_INJECT_KILL`; CLITests checks the shipped binary does not even hold the name). Each case
/// runs in a forked child, since an armed point kills the process that reaches it.
@Suite(.serialized) struct KillInjectionTests {
    /// How a child that armed `point` (or nothing) and reached `after-claim` ended.
    private func childReachingAfterClaim(armedAt point: KillPoint?) -> Int32 {
        let pid = fork()
        if pid == 0 {
            if let point { KillInjection.arm(at: point.rawValue) }
            KillInjection.reached(.afterClaim)
            _exit(0)
        }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        return status
    }

    @Test func unarmedPointsDoNothing() {
        #expect(childReachingAfterClaim(armedAt: nil) == 0, "exited 0: the point did nothing")
        #expect(childReachingAfterClaim(armedAt: .beforeSave) == 0, "another point armed: nothing here")
    }

    @Test func armedPointsKill() {
        #expect(childReachingAfterClaim(armedAt: .afterClaim) & 0x7F == SIGKILL)
    }
}
