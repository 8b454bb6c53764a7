import Foundation
import Testing

/// The container's stdio across the console, on the fake backend: its `FakeGuest` holds each
/// domain's console and speaks runxl-init's side of the framing, so the supervisor's pump,
/// stdin forwarding, exit frames and failure explanations run here as they do over Xen.
@Suite struct ConsoleCLITests {
    @Test func runCopiesTheProcessOutputAndReturnsItsStatus() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("echo", args: ["fake-echo", "hello", "from", "the", "guest"])
        let result = try world.run(["run", "--bundle", bundle, "echo"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "hello from the guest\n")
        #expect(!world.fakeDomainsRemain())
    }

    /// The supervisor forwards its stdin as input frames and its end as `inputEnd`, after which
    /// a process that reads to the end exits.
    @Test func stdinReachesTheProcessAndItsEndEndsIt() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("cat", args: ["fake-cat"])
        let text = "first line\nsecond line\n"
        let result = try world.run(["run", "--bundle", bundle, "cat"], input: text)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == text)
    }

    /// A guest whose init cannot run the process: the reason and init's diagnostics go to the
    /// container's stderr (podman's logs), and the status is 127.
    @Test func aProcessInitCannotRunIsExplainedOnStderr() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("broken", args: ["fake-fail", "mount /proc: EPERM"])
        let result = try world.run(["run", "--bundle", bundle, "broken"])
        #expect(result.status == 127)
        #expect(result.stderr.contains("container broken failed: mount /proc: EPERM"), "\(result.stderr)")
        #expect(result.stderr.contains("runxl-init: mount /proc: EPERM"), "the guest's diagnostic: \(result.stderr)")
    }

    /// `run` in the foreground ends with 128+N when a kill ends its process, and nothing of the
    /// guest stays behind.
    @Test func aKilledForegroundRunReturnsTheSignalStatus() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("long", args: ["fake-sleep"])
        let running = try world.start(["run", "--bundle", bundle, "long"])
        var status: String?
        for _ in 0..<250 {
            status = (try? stateObject(world, "long"))??["status"] as? String
            if status == "running" { break }
            usleep(20_000)
        }
        #expect(status == "running")
        #expect(try world.run(["kill", "long", "TERM"]).status == 0)
        let result = running.wait()
        #expect(result.status == 143, "\(result.stderr)")
        #expect(try world.run(["state", "long"]).status == 1, "run deletes its container, as runc's does")
        #expect(!world.fakeDomainsRemain())
        var guests = world.fakeGuestsRunning()
        for _ in 0..<250 where !guests.isEmpty {
            usleep(20_000)
            guests = world.fakeGuestsRunning()
        }
        #expect(guests.isEmpty, "the fake guest ends with its domain")
    }
}
