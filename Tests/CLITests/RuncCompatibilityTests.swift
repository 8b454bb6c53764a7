import Foundation
import Testing

/// Behaviour that scripts and tools written against runc notice (issue 19): the exact output
/// text and the arguments runc accepts.
@Suite struct RuncCompatibilityTests {
    /// runc's `list --format json` is Go's encoding of its `containerState` struct: members in
    /// declaration order, `<` escaped as `\u003c`, annotations sorted, and `null` for no
    /// container. Captured from runc 1.1.5 (`runc list --format json`).
    @Test func listJSONIsRuncsTextExactly() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        #expect(try world.run(["list", "--format", "json"]).stdout == "null\n")
        let bundle = try world.makeBundle("o") { config in
            config["annotations"] = ["b.key": "x<y", "a.key": "1"]
        }
        #expect(try world.run(["create", "--bundle", bundle, "o1"]).status == 0)
        let state = try #require(try stateObject(world, "o1"))
        let pid = try #require(state["pid"] as? Int)
        let created = try #require(state["created"] as? String)
        let owner = try #require(state["owner"] as? String)
        let version = try #require(state["ociVersion"] as? String)
        let expected =
            #"[{"ociVersion":"\#(version)","id":"o1","pid":\#(pid),"status":"created","bundle":"\#(bundle)","#
            + #""rootfs":"\#(bundle)/rootfs","created":"\#(created)","annotations":{"a.key":"1","b.key":"x\u003cy"},"#
            + #""owner":"\#(owner)"}]"# + "\n"
        #expect(try world.run(["list", "--format", "json"]).stdout == expected)
    }

    /// `state` is runc's `json.MarshalIndent` of the same struct: the same order, two spaces.
    @Test func stateJSONKeepsRuncsMemberOrder() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("s")
        #expect(try world.run(["create", "--bundle", bundle, "s1"]).status == 0)
        let text = try world.run(["state", "s1"]).stdout
        let names = text.split(separator: "\n").compactMap { line -> String? in
            guard let open = line.firstIndex(of: "\""), let close = line[line.index(after: open)...].firstIndex(of: "\"")
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        #expect(names == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"])
        #expect(text.contains("\n  \"id\": \"s1\",\n"))
    }

    /// runc's `kill ID 0` is kill(pid, 0): it answers whether the container is alive and
    /// delivers nothing. A created container stays created (other signals destroy it).
    @Test func killWithSignalZeroOnlyChecksTheContainerIsAlive() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("z")
        #expect(try world.run(["create", "--bundle", bundle, "z"]).status == 0)
        let created = try world.run(["kill", "z", "0"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try status(world, "z") == "created")
        #expect(try world.run(["start", "z"]).status == 0)
        #expect(try world.run(["kill", "z", "0"]).status == 0)
        #expect(try status(world, "z") == "running")
        #expect(try world.run(["kill", "z", "KILL"]).status == 0)
        try waitUntil { try status(world, "z") == "stopped" }
        let stopped = try world.run(["kill", "z", "0"], globalFirst: ["--log-format", "json"])
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("\"code\":202"), "\(stopped.stderr)")
        #expect(try world.run(["kill", "ghost", "0"]).status == 1)
    }

    /// runc's `kill --all` of a stopped container succeeds (nothing is left to signal); without
    /// `--all` it still fails.
    @Test(arguments: ["--all", "-a"]) func killAllOfAStoppedContainerSucceeds(flag: String) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("a")
        #expect(try world.run(["run", "--detach", "--bundle", bundle, "a"]).status == 0)
        #expect(try world.run(["kill", "a", "KILL"]).status == 0)
        try waitUntil { try status(world, "a") == "stopped" }
        #expect(try world.run(["kill", "a", "TERM"]).status == 1)
        let all = try world.run(["kill", flag, "a", "TERM"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try world.run(["kill", flag, "a", "KILL"]).status == 0)
        #expect(try status(world, "a") == "stopped")
        #expect(try world.run(["delete", "a"]).status == 0)
    }

    /// A guest cannot inherit the host's descriptors: `--preserve-fds N` above 0 is refused with
    /// code 406 naming the flag, before anything is done; 0 (podman's default) is accepted.
    @Test func preserveFdsAboveZeroIsRefusedNamingTheFlag() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("p")
        #expect(try world.run(["create", "--bundle", bundle, "p"]).status == 0)
        #expect(try world.run(["start", "p"]).status == 0)
        let refused = try world.run(["exec", "--preserve-fds", "2", "p", "true"], globalFirst: ["--log-format", "json"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--preserve-fds 2"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Xen guest"), "\(refused.stderr)")
        #expect(refused.stderr.contains("\"code\":406"), "\(refused.stderr)")
        // 0 passes the flag check and runs.
        let zero = try world.run(["exec", "--preserve-fds", "0", "p", "fake-echo", "ran"])
        #expect(zero.status == 0, "\(zero.stderr)")
        #expect(zero.stdout == "ran\n")

        let createRefused = try world.run(["create", "--preserve-fds", "1", "--bundle", bundle, "p2"])
        #expect(createRefused.status == 1)
        #expect(createRefused.stderr.contains("--preserve-fds 1"), "\(createRefused.stderr)")
        #expect(try world.run(["state", "p2"]).status == 1, "a refused create leaves no container")
        #expect(try world.run(["create", "--preserve-fds", "0", "--bundle", bundle, "p3"]).status == 0)
    }

    /// With a terminal, runc's create keeps none of the caller's descriptors: a caller that
    /// reads create's output to its end (`out=$(runc create ...)`) gets EOF when create returns,
    /// although the container lives on.
    @Test func createWithATerminalLeavesTheCallersPipesClosed() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("tty", terminal: true)
        let listener = try ConsoleSocketListener(path: world.directory + "/console.sock")
        defer { listener.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RunxlProcess.binary)
        process.arguments = ["--root", world.root, "create", "--bundle", bundle, "--console-socket", listener.path, "t1"]
        process.environment = world.environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let master = listener.receiveDescriptor()
        if master >= 0 { close(master) }
        // Every writer gone means POLLHUP (and a read of 0) at once; a supervisor holding the
        // pipe would leave poll waiting.
        let descriptor = output.fileHandleForReading.fileDescriptor
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 3000) == 1 && entry.revents & Int16(POLLHUP) != 0, "create's supervisor kept the caller's pipe open")
        #expect(try status(world, "t1") == "created")
    }

    /// runc runs a terminal process in the foreground without --console-socket, bridging the pty
    /// to its own stdio; only a detached run needs the socket. The master comes back to `run`
    /// in-process: no socket is made for it anywhere.
    @Test func runWithATerminalInTheForegroundNeedsNoConsoleSocket() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("fg", args: ["fake-exit", "3"], terminal: true)
        let result = try world.run(["run", "--bundle", bundle, "fg"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
        let echoing = try world.makeBundle("fg-echo", args: ["fake-echo", "through", "the", "pty"], terminal: true)
        let echoed = try world.run(["run", "--bundle", echoing, "fg-echo"])
        #expect(echoed.status == 0, "\(echoed.stderr)")
        #expect(echoed.stdout == "through the pty\n", "the guest's output crossed the host pty and run's bridge")
        let detached = try world.run(["run", "--detach", "--bundle", bundle, "fg2"])
        #expect(detached.status != 0)
        #expect(detached.stderr.contains("--console-socket"))
        #expect(try world.run(["list", "--quiet"]).stdout.isEmpty, "a refused run leaves no container")
    }

    /// `events --stats` is runc's stats event, from the domain's accounting: the type, the id,
    /// runc's members in runc's order, memory as Xen gives it to the guest.
    @Test func eventsStatsPrintsRuncsStatsEvent() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("ev")
        #expect(try world.run(["run", "--detach", "--bundle", bundle, "ev1"]).status == 0)
        let result = try world.run(["events", "--stats", "ev1"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "stats")
        #expect(object["id"] as? String == "ev1")
        let data = try #require(object["data"] as? [String: Any])
        let memory = try #require((data["memory"] as? [String: Any])?["usage"] as? [String: Any])
        #expect((memory["usage"] as? Int ?? 0) > 0, "the guest's memory: \(memory)")
        #expect(result.stdout.hasPrefix(#"{"type":"stats","id":"ev1","data":{"cpu":{"usage":"#))
        #expect(result.stdout.contains(#""intel_rdt":{},"network_interfaces":null}}"#))
        #expect(try world.run(["kill", "ev1", "KILL"]).status == 0)
        try waitUntil { try status(world, "ev1") == "stopped" }
        let stopped = try world.run(["events", "--stats", "ev1"])
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("stopped"))
        // The stream form ends by itself once the container has.
        #expect(try world.run(["events", "--interval", "100ms", "ev1"]).status == 0)
        #expect(try world.run(["events", "--interval", "soon", "ev1"]).status == 1)
    }
}
