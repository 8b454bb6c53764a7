import Foundation
import Testing

/// Black-box tests of the runxl binary on the fake hypervisor: the contracts podman and
/// containerd rely on (shared/docs/oci-clients.md), one process per verb.
@Suite struct CLIContractTests {
    @Test func stateOfMissingContainerNamesIt() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let result = try world.run(["state", "nope"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("nope"))
        #expect(result.stdout.isEmpty)
    }

    @Test func jsonLogGetsOneErrorLineWithCode() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let log = world.directory + "/log.json"
        let result = try world.run(["state", "nope"], globalFirst: ["--log-format", "json", "--log", log])
        #expect(result.status == 1)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["level"] as? String == "error")
        #expect((object["msg"] as? String)?.contains("nope") == true)
        #expect(object["code"] as? Int == 200)
        #expect((object["time"] as? String)?.hasSuffix("Z") == true)
    }

    @Test func versionFlagPrintsVersionAndSpec() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let result = try world.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("runxl version "))
        #expect(result.stdout.contains("spec: "))
    }

    @Test func specWritesConfigThatCreateAccepts() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = world.directory + "/spec-bundle"
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
        #expect(try world.run(["spec", "--bundle", bundle]).status == 0)
        #expect(FileManager.default.fileExists(atPath: bundle + "/config.json"))
        // A second spec refuses to overwrite.
        #expect(try world.run(["spec", "--bundle", bundle]).status == 1)
        // runc's default spec asks for a terminal: its master must arrive on the console socket.
        let listener = try ConsoleSocketListener(path: world.directory + "/console.sock")
        defer { listener.close() }
        let created = try world.run(["create", "--bundle", bundle, "--console-socket", listener.path, "c1"])
        #expect(created.status == 0, "\(created.stderr)")
        let master = listener.receiveDescriptor()
        #expect(master >= 0 && isatty(master) == 1, "the console socket must receive a pty master")
        if master >= 0 { close(master) }
        let state = try world.run(["state", "c1"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])
        #expect(object["status"] as? String == "created")
        #expect(object["id"] as? String == "c1")
        #expect((object["pid"] as? Int ?? 0) > 0)
        #expect(try world.run(["delete", "--force", "c1"]).status == 0)
    }

    @Test func featuresPrintsJSON() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let result = try world.run(["features"])
        #expect(result.status == 0)
        let object = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["ociVersionMin"] is String)
        #expect(object["ociVersionMax"] is String)
        let schemaCheck = try SchemaCheck.validate(json: result.stdout, schema: "features-schema.json")
        #expect(schemaCheck.isEmpty, "\(schemaCheck)")
    }

    @Test func lifecycleFollowsRuncStates() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("life")
        let pidFile = world.directory + "/pid"
        let created = try world.run(["create", "--bundle", bundle, "--pid-file", pidFile, "life"])
        #expect(created.status == 0, "\(created.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
        #expect(Int32(pid) ?? 0 > 0)
        #expect(kill(Int32(pid) ?? 0, 0) == 0, "the supervisor must be alive while the container is")

        #expect(try world.run(["start", "life"]).status == 0)
        let second = try world.run(["start", "life"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("running"))
        #expect(try world.run(["pause", "life"]).status == 0)
        #expect(try status(world, "life") == "paused")
        #expect(try world.run(["resume", "life"]).status == 0)
        let notStopped = try world.run(["delete", "life"])
        #expect(notStopped.status == 1)
        #expect(notStopped.stderr.contains("not stopped"))

        #expect(try world.run(["kill", "life", "sigterm"]).status == 0)
        try waitUntil { try status(world, "life") == "stopped" }
        #expect(try world.run(["kill", "life", "15"]).status == 1)
        #expect(try world.run(["delete", "life"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty)
        #expect(try world.run(["delete", "--force", "life"]).status == 0, "a missing container with --force succeeds")
        #expect(try world.run(["delete", "life"]).status == 1)
    }

    @Test func runReturnsTheContainerExitCode() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("exit3", args: ["fake-exit", "3"])
        let result = try world.run(["run", "--bundle", bundle, "exit3"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
    }

    @Test(arguments: ["KILL", "SIGKILL", "kill", "9"])
    func killAcceptsNamesAndNumbers(signal: String) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("k")
        #expect(try world.run(["run", "--detach", "--bundle", bundle, "k"]).status == 0)
        #expect(try world.run(["kill", "k", signal]).status == 0)
        try waitUntil { try status(world, "k") == "stopped" }
        #expect(try world.run(["delete", "k"]).status == 0)
    }

    @Test func badInputFailsCleanly() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("bad")
        #expect(try world.run(["create", "--bundle", bundle, "../escape"]).status == 1)
        #expect(try world.run(["create", "--bundle", world.directory + "/missing", "m"]).stderr.contains("missing"))
        try Data("{\"ociVersion\": 3".utf8).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        let broken = try world.run(["create", "--bundle", bundle, "b"])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("config.json"))
        let noArgs = try world.makeBundle("noargs", args: [])
        let empty = try world.run(["create", "--bundle", noArgs, "e"])
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("process.args"))
        let good = try world.makeBundle("good")
        #expect(try world.run(["create", "--bundle", good, "g"]).status == 0)
        let unknownSignal = try world.run(["kill", "g", "SIGNOPE"])
        #expect(unknownSignal.status == 1)
        #expect(unknownSignal.stderr.contains("SIGNOPE"))
        let duplicate = try world.run(["create", "--bundle", good, "g"])
        #expect(duplicate.status == 1)
        #expect(try status(world, "g") == "created", "a duplicate create leaves the first container untouched")
        #expect(try world.run(["delete", "--force", "g"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
    }

    @Test func listShowsContainers() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("l")
        #expect(try world.run(["create", "--bundle", bundle, "l1"]).status == 0)
        let table = try world.run(["list"])
        #expect(table.stdout.hasPrefix("ID"))
        #expect(table.stdout.contains("l1"))
        #expect(try world.run(["list", "--quiet"]).stdout == "l1\n")
        let json = try world.run(["list", "--format", "json"])
        let array = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(array.first?["status"] as? String == "created")
        let ps = try world.run(["ps", "--format", "json", "l1"])
        #expect(ps.status == 0)
        #expect(ps.stdout.hasPrefix("["))
        #expect(try world.run(["delete", "--force", "l1"]).status == 0)
    }

    /// 32 processes create distinct ids while 8 race for one: exactly 33 win, every record parses,
    /// no temporary file is left.
    @Test func concurrentCreatesAreAtomic() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("race")
        var launched: [RunxlProcess.Running] = []
        for index in 0..<32 { launched.append(try world.start(["create", "--bundle", bundle, "distinct-\(index)"])) }
        for _ in 0..<8 { launched.append(try world.start(["create", "--bundle", bundle, "contested"])) }
        var successes = 0
        for running in launched where running.wait().status == 0 { successes += 1 }
        #expect(successes == 33)
        let files = world.filesUnderRoot()
        #expect(!files.isEmpty)
        #expect(!files.contains { $0.hasSuffix(".runxl-tmp") }, "\(files.filter { $0.contains("tmp") })")
        let records = files.filter { $0.hasSuffix("state.json") }
        #expect(records.count == 33)
        for record in records {
            let data = try Data(contentsOf: URL(fileURLWithPath: world.root + "/" + record))
            #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "\(record) must parse")
        }
        let list = try world.run(["list", "--quiet"])
        #expect(list.stdout.split(separator: "\n").count == 33)
        for id in list.stdout.split(separator: "\n") {
            #expect(try world.run(["delete", "--force", String(id)]).status == 0)
        }
        #expect(world.filesUnderRoot().isEmpty)
    }

    /// launch is its own supervisor: the container's exit code is launch's, and nothing stays.
    @Test func launchReturnsTheContainerExitCodeAndLeavesNothing() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("exits", args: ["fake-exit", "7"])
        let result = try world.run(["launch", "--name", "exits", bundle])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
        #expect(!world.fakeDomainsRemain())
    }

    /// launch of a bare rootfs directory writes no bundle anywhere: with --keep its state
    /// directory is the container's bundle, holding the spec create saved.
    @Test func launchOfARootfsKeepsItsSpecInItsStateOnly() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let rootfs = world.directory + "/bare"
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        let result = try world.run(["launch", "--keep", "--name", "kept", rootfs, "--", "fake-exit", "3"])
        #expect(result.status == 3, "\(result.stderr)")
        let state = try #require(try stateObject(world, "kept"))
        #expect(state["bundle"] as? String == world.root + "/kept")
        let saved = try Data(contentsOf: URL(fileURLWithPath: world.root + "/kept/config.json"))
        let spec = try JSONSerialization.jsonObject(with: saved) as? [String: Any]
        #expect((spec?["process"] as? [String: Any])?["args"] as? [String] == ["fake-exit", "3"])
        #expect((spec?["root"] as? [String: Any])?["path"] as? String == rootfs)
        #expect(try world.run(["delete", "kept"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty)
    }

    /// SIGTERM to launch (Ctrl-C likewise) destroys the guest and exits 128+15, as a shell says.
    @Test func launchInterruptedDestroysTheGuestAndExits143() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("forever", args: ["sleep", "forever"])
        let running = try world.start(["launch", "--name", "forever", bundle])
        // Running once state says so: the domain exists and is unpaused.
        try waitUntil { (try? status(world, "forever")) == "running" }
        #expect(try status(world, "forever") == "running")
        let stateText = try world.run(["state", "forever"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(stateText.utf8)) as? [String: Any]
        #expect(object?["pid"] as? Int == Int(running.process.processIdentifier), "launch is the supervisor")
        #expect(world.fakeDomainsRemain())
        running.process.terminate()
        let result = running.wait()
        #expect(result.status == 143, "\(result.stderr)")
        #expect(world.filesUnderRoot().isEmpty)
        #expect(!world.fakeDomainsRemain())
    }
}

/// `state` must stay cheap: the libraries behind libxl, libarchive and (for `image pull` only)
/// libcurl and libcrypto are opened on first use, never linked (docs/architecture.md). A new
/// direct link would slip back unnoticed otherwise.
@Suite struct StartupCostTests {
    @Test func runxlLinksNoLibraryItOpensOnDemand() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        process.arguments = [RunxlProcess.shippedBinary]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("libc.so"), "ldd must have listed the binary's libraries: \(text)")
        for library in [
            "libxenlight", "libxenstore", "libxentoollog", "libarchive", "libxml2", "libicu",
            "libcurl", "libcrypto", "libssl", "libnghttp2",
        ] {
            #expect(!text.contains(library), "runxl links \(library) directly")
        }
    }
}
