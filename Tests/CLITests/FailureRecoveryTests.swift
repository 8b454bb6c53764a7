import Foundation
import Testing

/// runxl SIGKILLed at every named step of create and delete (RUNXL_INJECT_KILL), then
/// `delete --force` or `gc`: afterwards no record, no domain, no temporary file, no supervisor.
/// docs/failure-and-hostile-input.md has the table of points and the state each leaves.
@Suite struct FailureRecoveryTests {
    static let createPoints = ["after-claim", "after-prepare", "after-domain-create", "after-supervisor-spawn", "before-save"]
    static let deletePoints = ["after-delete-mark", "after-destroy", "before-remove", "after-record-remove"]

    enum Recovery: String, CaseIterable { case deleteForce, gc }

    @Test(arguments: createPoints, Recovery.allCases)
    func createKilledThenRecovered(point: String, recovery: Recovery) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        let killed = try world.run(["create", "--bundle", bundle, "victim"], extraEnvironment: ["RUNXL_INJECT_KILL": point])
        #expect(killed.status == SIGKILL, "create must die at \(point): \(killed.stderr)")
        #expect(!world.filesUnderRoot().isEmpty, "the killed create leaves its record")
        try recover(world, recovery, id: "victim")
        try expectClean(world)
        // The id is free again: a new create of it works.
        #expect(try world.run(["create", "--bundle", bundle, "victim"]).status == 0)
        #expect(try world.run(["delete", "--force", "victim"]).status == 0)
        try expectClean(world)
    }

    @Test(arguments: deletePoints, Recovery.allCases)
    func deleteKilledThenRecovered(point: String, recovery: Recovery) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        #expect(try world.run(["run", "--detach", "--bundle", bundle, "victim"]).status == 0)
        #expect(world.fakeDomainsRemain())
        let killed = try world.run(["delete", "--force", "victim"], extraEnvironment: ["RUNXL_INJECT_KILL": point])
        #expect(killed.status == SIGKILL, "delete must die at \(point): \(killed.stderr)")
        try recover(world, recovery, id: "victim")
        try expectClean(world)
    }

    /// A kill point unknown to runxl changes nothing (a typo must not look like a passing test).
    @Test func unknownPointIsIgnored() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        let created = try world.run(["create", "--bundle", bundle, "c"], extraEnvironment: ["RUNXL_INJECT_KILL": "nowhere"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try world.run(["delete", "--force", "c"]).status == 0)
        try expectClean(world)
    }

    /// gc leaves what is alive and what a client will still delete: a created container, a
    /// running one, a stopped one (its record holds the exit status podman reads).
    @Test func gcKeepsLiveAndStoppedContainers() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        let exits = try world.makeBundle("exits", args: ["fake-exit", "3"])
        #expect(try world.run(["create", "--bundle", bundle, "created"]).status == 0)
        #expect(try world.run(["run", "--detach", "--bundle", bundle, "running"]).status == 0)
        #expect(try world.run(["run", "--detach", "--bundle", exits, "stopped"]).status == 0)
        try waitUntil { try status(world, "stopped") == "stopped" }
        // Its supervisor destroys the domain after recording the exit: let it finish first.
        try waitUntil { supervisors(of: world).count == 2 }
        let gc = try world.run(["gc", "--cache", world.directory + "/cache"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(!gc.stdout.contains("removed:"), "\(gc.stdout)")
        #expect(try status(world, "created") == "created")
        #expect(try status(world, "running") == "running")
        #expect(try status(world, "stopped") == "stopped")
        let state = try world.run(["state", "stopped"])
        #expect(state.status == 0)
        #expect(try world.run(["delete", "stopped"]).status == 0)
        for id in ["created", "running"] { #expect(try world.run(["delete", "--force", id]).status == 0) }
        try expectClean(world)
    }

    /// Temporary files of dead processes go, under the root and in the guest cache; one whose
    /// process still runs is a write in flight and stays.
    @Test func gcRemovesTemporaryFilesOfDeadProcessesOnly() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        #expect(try world.run(["create", "--bundle", bundle, "c"]).status == 0)
        let dead = try deadPID()
        let alive = ProcessInfo.processInfo.processIdentifier
        let cache = world.directory + "/cache"
        try FileManager.default.createDirectory(atPath: cache + "/initramfs", withIntermediateDirectories: true)
        let stale = [
            world.root + "/c/state.json.\(dead).runxl-tmp",
            world.root + "/stray.\(dead).runxl-tmp",
            cache + "/initramfs/initramfs-0123.cpio.gz.\(dead).runxl-tmp",
        ]
        let inFlight = world.root + "/c/state.json.\(alive).runxl-tmp"
        for path in stale + [inFlight] { FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        let gc = try world.run(["gc", "--cache", cache])
        #expect(gc.status == 0, "\(gc.stderr)")
        for path in stale { #expect(!FileManager.default.fileExists(atPath: path), "\(path) stays: \(gc.stdout)") }
        #expect(FileManager.default.fileExists(atPath: inFlight))
        #expect(try status(world, "c") == "created", "gc left the live container alone")
        try FileManager.default.removeItem(atPath: inFlight)
        #expect(try world.run(["delete", "--force", "c"]).status == 0)
        try expectClean(world)
    }

    /// A domain with no record under this root is reported, and destroyed only when asked: it may
    /// belong to another --root or be a guest booted with `xl create`.
    @Test func gcDestroysOrphanDomainsOnlyWhenAsked() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("b")
        #expect(try world.run(["create", "--bundle", bundle, "lost"]).status == 0)
        let pid = Int32(try #require(try stateObject(world, "lost")?["pid"] as? Int))
        kill(pid, SIGKILL)
        try FileManager.default.removeItem(atPath: world.root + "/lost")
        let reported = try world.run(["gc"])
        #expect(reported.stdout.contains("runxl-lost"), "\(reported.stdout)")
        #expect(world.fakeDomainsRemain())
        let destroyed = try world.run(["gc", "--orphan-domains"])
        #expect(destroyed.stdout.contains("destroyed domain runxl-lost"), "\(destroyed.stdout)")
        try expectClean(world)
    }

    /// Every kill point is in the doc's table (and the doc names no point runxl lacks).
    @Test func everyPointIsDocumented() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("docs/failure-and-hostile-input.md"), encoding: .utf8)
        for point in Self.createPoints + Self.deletePoints {
            #expect(doc.contains("| `\(point)` |"), "docs/failure-and-hostile-input.md lacks \(point)")
        }
    }

    // MARK: helpers

    private func recover(_ world: RunxlProcess, _ recovery: Recovery, id: String) throws {
        switch recovery {
        case .deleteForce:
            let deleted = try world.run(["delete", "--force", id])
            #expect(deleted.status == 0, "\(deleted.stderr)")
        case .gc:
            let gc = try world.run(["gc", "--cache", world.directory + "/cache"])
            #expect(gc.status == 0, "\(gc.stdout) \(gc.stderr)")
            #expect(gc.stdout.contains("removed:"), "\(gc.stdout)")
        }
    }

    /// No record, no domain, no temporary file, no supervisor of this world still running.
    private func expectClean(_ world: RunxlProcess) throws {
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
        #expect(!world.fakeDomainsRemain())
        try waitUntil { supervisors(of: world).isEmpty }
        #expect(supervisors(of: world).isEmpty, "supervisors left: \(supervisors(of: world))")
    }

    /// Live `runxl supervise` processes started for this world's --root.
    private func supervisors(of world: RunxlProcess) -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> Int32? in
            guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            // One per container: the pid create reports (its supervisor proper runs with --inner).
            guard words.contains("supervise"), !words.contains("--inner"), words.contains(world.root) else { return nil }
            // A zombie awaiting its parent is gone for our purposes.
            let stat = (try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8)) ?? ""
            if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].hasPrefix(" Z") { return nil }
            return pid
        }
    }

    private func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
