import Glibc
import Testing

@testable import Runtime

/// Kill points fire only once armed, which only `runxl-testing` does at start: in the shipped
/// binary `RUNXL_INJECT_KILL` in the environment changes nothing. Each case runs in a forked child,
/// since an armed point kills the process that reaches it.
@Suite(.serialized) struct KillInjectionTests {
    /// How a child that set the variable, maybe armed, and reached `after-claim` ended.
    private func childReachingAfterClaim(armed: Bool) -> Int32 {
        let pid = fork()
        if pid == 0 {
            setenv(KillInjection.variable, KillPoint.afterClaim.rawValue, 1)
            if armed { KillInjection.arm() }
            KillInjection.reached(.afterClaim)
            _exit(0)
        }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        return status
    }

    @Test func unarmedPointsIgnoreTheEnvironment() {
        #expect(childReachingAfterClaim(armed: false) == 0, "exited 0: the point did nothing")
    }

    @Test func armedPointsKill() {
        #expect(childReachingAfterClaim(armed: true) & 0x7F == SIGKILL)
    }
}
