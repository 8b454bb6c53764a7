import Foundation
import Testing

/// The supervisor installs its seccomp filter and drops capabilities (docs/supervisor-confinement.md);
/// every CLI test's container then runs under it. `RUNXL_SUPERVISOR_SECCOMP=0` turns it off.
@Suite struct SupervisorConfinementTests {
    /// CAP_DAC_OVERRIDE, CAP_KILL, CAP_NET_ADMIN, CAP_IPC_LOCK, CAP_SYS_ADMIN.
    static let keptCapabilities = "0000000000205022"

    private func status(ofSupervisorWith environment: [String: String]) throws -> [String: String] {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        let pidFile = world.directory + "/pid"
        let created = try world.run(["create", "--bundle", bundle, "--pid-file", pidFile, "c"], extraEnvironment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        // The whole lifecycle works under the filter.
        #expect(try world.run(["start", "c"]).status == 0)
        #expect(try world.run(["kill", "c", "TERM"]).status == 0)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, kill(Int32(pid) ?? 0, 0) == 0 { usleep(20_000) }
        let state = try world.run(["state", "c"])
        #expect(state.stdout.contains("\"stopped\""), "\(state.stdout)")
        #expect(state.stdout.contains("signaled:15") || state.stdout.contains("\"status\""))
        #expect(try world.run(["delete", "c"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty)
        return fields
    }

    @Test(.enabled(if: geteuid() == 0, "capabilities are dropped when running as root"))
    func supervisorRunsUnderItsFilterWithFewCapabilities() throws {
        let fields = try status(ofSupervisorWith: [:])
        #expect(fields["Seccomp"] == "2", "\(fields)")
        #expect(fields["NoNewPrivs"] == "1")
        #expect(fields["CapEff"] == Self.keptCapabilities)
        #expect(fields["CapBnd"] == Self.keptCapabilities)
        #expect(fields["CapInh"] == "0000000000000000")
    }

    @Test func escapeHatchLeavesTheSupervisorUnconfined() throws {
        let fields = try status(ofSupervisorWith: ["RUNXL_SUPERVISOR_SECCOMP": "0"])
        #expect(fields["Seccomp"] == "0", "\(fields)")
    }
}
