import Foundation
import Testing

/// `runxl exec` on the fake backend, whose `FakeGuest` serves exec sessions over the console as
/// runxl-init does: the supervisor's exec server, the session frames and the client run for
/// real. Real programs in a real guest are the lab's (Tests/lab/exec-in-dom0.sh).
@Suite struct ExecCLITests {
    /// runc execs into a created container too (init serves sessions while the process waits at
    /// its gate); only a stopped one is refused.
    @Test func execTakesACreatedContainerAndRefusesAStoppedOne() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("idle")
        #expect(try world.run(["create", "--bundle", bundle, "idle"]).status == 0)
        let created = try world.run(["exec", "idle", "fake-echo", "before", "start"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout == "before start\n")
        #expect(try stateObject(world, "idle")?["status"] as? String == "created", "exec does not start the container")
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
        let result = try world.run(["exec", "-e", "A=1", "up", "fake-echo", "-c", "true"])
        #expect(!result.stderr.contains("unknown flag"), "\(result.stderr)")
        #expect(result.stdout == "-c true\n", "\(result.stderr)")
    }

    @Test func execOfAMissingContainerNamesIt() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let result = try world.run(["exec", "ghost", "true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("ghost"), "\(result.stderr)")
    }
}

/// What an exec session carries: output, stdin and its end, exit status, a missing program.
@Suite struct ExecSessionCLITests {
    @Test func execSessionsCarryOutputInputAndStatus() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("box", args: ["fake-sleep"])
        #expect(try world.run(["create", "--bundle", bundle, "box"]).status == 0)
        #expect(try world.run(["start", "box"]).status == 0)

        let echoed = try world.run(["exec", "box", "fake-echo", "a", "b"])
        #expect(echoed.status == 0, "\(echoed.stderr)")
        #expect(echoed.stdout == "a b\n")

        let piped = try world.run(["exec", "box", "fake-cat"], input: "to the session\n")
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout == "to the session\n")

        #expect(try world.run(["exec", "box", "fake-exit", "5"]).status == 5)

        let missing = try world.run(["exec", "box", "no-such-program"])
        #expect(missing.status == 127)
        #expect(missing.stderr.contains("no-such-program: not found"), "\(missing.stderr)")

        // Two sessions at once keep their streams apart.
        let first = try world.start(["exec", "box", "fake-echo", "one"])
        let second = try world.start(["exec", "box", "fake-echo", "two"])
        #expect(first.wait().stdout == "one\n")
        #expect(second.wait().stdout == "two\n")

        #expect(try stateObject(world, "box")?["status"] as? String == "running", "sessions leave the process running")
        #expect(try world.run(["delete", "--force", "box"]).status == 0)
        #expect(!world.fakeDomainsRemain())
    }
}
