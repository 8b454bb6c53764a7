import Foundation
import Testing

/// `runxl exec`'s argument handling and refusals, on the fake backend (which has no console, so
/// no exec channel); the exec itself is proven in the lab (Tests/lab/exec-in-dom0.sh).
@Suite struct ExecCLITests {
    /// runc execs into a created container too: the state check lets it through (the fake then
    /// has no channel to carry it), and only a stopped one is refused.
    @Test func execTakesACreatedContainerAndRefusesAStoppedOne() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("idle")
        #expect(try world.run(["create", "--bundle", bundle, "idle"]).status == 0)
        let created = try world.run(["exec", "idle", "sh", "-c", "true"])
        #expect(created.stderr.contains("no exec channel"), "\(created.stderr)")
        #expect(try world.run(["kill", "idle", "KILL"]).status == 0)
        let stopped = try world.run(["exec", "idle", "sh", "-c", "true"])
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("stopped, not running"), "\(stopped.stderr)")
    }

    /// The command's own flags (`-c`) are not runxl's: flags end at the container id.
    @Test func commandFlagsAfterTheIDAreTheCommands() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("up")
        #expect(try world.run(["create", "--bundle", bundle, "up"]).status == 0)
        #expect(try world.run(["start", "up"]).status == 0)
        let result = try world.run(["exec", "-e", "A=1", "up", "sh", "-c", "true"])
        #expect(!result.stderr.contains("unknown flag"), "\(result.stderr)")
        #expect(result.stderr.contains("no exec channel"), "\(result.stderr)")
    }

    @Test func execOfAMissingContainerNamesIt() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let result = try world.run(["exec", "ghost", "true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("ghost"), "\(result.stderr)")
    }
}
