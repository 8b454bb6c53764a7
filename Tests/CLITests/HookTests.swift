import Foundation
import Testing

/// The config's hooks run on the host at the spec's points, with the state on stdin; a failing
/// create-time hook fails create and leaves nothing (fake backend: the same engine code runs on Xen).
@Suite struct HookTests {
    /// A hook that appends "PHASE STATUS" (the status read from the state on stdin) to `log`.
    private func hook(_ phase: String, log: String, exitCode: Int = 0) -> [String: Any] {
        let script = "read -r state; s=${state#*\\\"status\\\":\\\"}; echo \"\(phase) ${s%%\\\"*}\" >> \(log); exit \(exitCode)"
        return ["path": "/bin/sh", "args": ["sh", "-c", script]]
    }

    private func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func hooksRunAtTheirPointsWithTheState() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let log = world.directory + "/hooks.log"
        let phases = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
        let bundle = try world.makeBundle("hooked") { config in
            var hooks: [String: Any] = [:]
            for phase in phases { hooks[phase] = [hook(phase, log: log)] }
            config["hooks"] = hooks
        }
        #expect(try world.run(["create", "--bundle", bundle, "hooked"]).status == 0)
        #expect(lines(log) == ["prestart creating", "createRuntime creating", "createContainer creating"])
        #expect(try world.run(["start", "hooked"]).status == 0)
        #expect(lines(log).suffix(2) == ["startContainer created", "poststart running"])
        #expect(try world.run(["delete", "--force", "hooked"]).status == 0)
        #expect(lines(log).last == "poststop stopped")
        #expect(lines(log).count == 6)
    }

    @Test func failingCreateRuntimeHookFailsCreateAndLeavesNothing() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let log = world.directory + "/hooks.log"
        let bundle = try world.makeBundle("badhook") { config in
            config["hooks"] = ["createRuntime": [hook("createRuntime", log: log, exitCode: 4)]]
        }
        let created = try world.run(["create", "--bundle", bundle, "badhook"])
        #expect(created.status == 1)
        #expect(created.stderr.contains("createRuntime hook 0"), "\(created.stderr)")
        #expect(created.stderr.contains("exited with status 4"), "\(created.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
        #expect(!world.fakeDomainsRemain())
    }

    @Test func hookPastItsTimeoutIsKilledAndFailsCreate() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("slowhook") { config in
            config["hooks"] = ["createContainer": [["path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1]]]
        }
        let started = Date()
        let created = try world.run(["create", "--bundle", bundle, "slowhook"])
        #expect(created.status == 1)
        #expect(created.stderr.contains("timeout"), "\(created.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(world.filesUnderRoot().isEmpty)
        #expect(!world.fakeDomainsRemain())
    }

    @Test func failingPoststartHookOnlyWarns() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let log = world.directory + "/hooks.log"
        let bundle = try world.makeBundle("poststart") { config in
            config["hooks"] = ["poststart": [hook("poststart", log: log, exitCode: 2)]]
        }
        #expect(try world.run(["create", "--bundle", bundle, "poststart"]).status == 0)
        let started = try world.run(["start", "poststart"])
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stderr.contains("poststart hook 0"), "\(started.stderr)")
        #expect(lines(log) == ["poststart running"])
    }

    /// runc refuses a terminal without a socket to send its master to; so does runxl, before
    /// anything exists.
    @Test func terminalWithoutConsoleSocketIsRefused() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("tty", terminal: true)
        let created = try world.run(["create", "--bundle", bundle, "tty"])
        #expect(created.status == 1)
        #expect(created.stderr.contains("--console-socket"), "\(created.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
        #expect(!world.fakeDomainsRemain())
    }
}
