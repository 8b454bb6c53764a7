import Foundation
import Testing

/// A pod's further containers run in its first container's VM (docs/pods.md), here on the fake
/// backend: the member's supervisor, its start as a session through the pod's supervisor, its
/// signals and its end run for real; the fake guest plays init's side. The pod in a real VM,
/// driven by podman, is the lab's (Tests/lab/network-in-dom0.sh).
@Suite struct PodCLITests {
    /// CRI-O's annotations, which podman 4.3 gives a pod's further containers (docs/pods.md).
    static func member(of sandbox: String) -> (inout [String: Any]) -> Void {
        { config in
            config["annotations"] = ["io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": sandbox]
            config["hostname"] = nil
        }
    }

    @Test func membersRunInTheSandboxsVMWithTheirOwnStdioAndStatus() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        try startPod(in: world)

        let echo = try world.makeBundle("echo", args: ["fake-echo", "from", "the", "pod"], mutate: Self.member(of: "infra"))
        let echoed = try world.run(["run", "--bundle", echo, "echo"])
        #expect(echoed.status == 0, "\(echoed.stderr)")
        #expect(echoed.stdout == "from the pod\n")

        let failing = try world.makeBundle("failing", args: ["fake-exit", "7"], mutate: Self.member(of: "infra"))
        #expect(try world.run(["run", "--bundle", failing, "failing"]).status == 7)

        // A member that runs until a signal: its own record and pid, the pod's one domain.
        let server = try world.makeBundle("server", args: ["fake-wait"], mutate: Self.member(of: "infra"))
        #expect(try world.run(["create", "--bundle", server, "server"]).status == 0)
        #expect(try status(world, "server") == "created")
        let early = try world.run(["exec", "server", "fake-echo", "too", "early"])
        #expect(early.status != 0)
        #expect(early.stderr.contains("it is created, not running"), "a member's process exists only once started: \(early.stderr)")
        #expect(try world.run(["start", "server"]).status == 0)
        let inside = try world.run(["exec", "server", "fake-echo", "inside", "a", "member"])
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stdout == "inside a member\n")
        #expect(try status(world, "server") == "running")
        let infraPid = try #require(try stateObject(world, "infra")?["pid"] as? Int)
        let serverPid = try #require(try stateObject(world, "server")?["pid"] as? Int)
        #expect(infraPid != serverPid)
        #expect(try domainCount(world) == 1, "one VM for the pod")

        let paused = try world.run(["pause", "server"])
        #expect(paused.status != 0)
        #expect(paused.stderr.contains("runs in the VM of pod infra"), "\(paused.stderr)")

        #expect(try world.run(["kill", "server", "TERM"]).status == 0)
        try waitUntil { try status(world, "server") == "stopped" }
        #expect(try world.run(["delete", "server"]).status == 0)
        #expect(try status(world, "infra") == "running", "a member's end leaves the pod running")
        #expect(try domainCount(world) == 1)

        #expect(try world.run(["delete", "--force", "infra"]).status == 0)
        #expect(!world.fakeDomainsRemain())
    }

    /// Deleting the pod's first container ends its VM, and every member with it; the members'
    /// records stay, stopped, for their own delete, as podman's `pod rm -f` sends them.
    @Test func deletingTheSandboxFirstStopsItsMembers() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        try startPod(in: world)
        let server = try world.makeBundle("server", args: ["fake-wait"], mutate: Self.member(of: "infra"))
        #expect(try world.run(["create", "--bundle", server, "server"]).status == 0)
        #expect(try world.run(["start", "server"]).status == 0)
        let idle = try world.makeBundle("idle", args: ["fake-wait"], mutate: Self.member(of: "infra"))
        #expect(try world.run(["create", "--bundle", idle, "idle"]).status == 0)

        #expect(try world.run(["delete", "--force", "infra"]).status == 0)
        try waitUntil { try status(world, "server") == "stopped" }
        #expect(!world.fakeDomainsRemain())
        #expect(try world.run(["delete", "server"]).status == 0)
        #expect(try world.run(["delete", "--force", "idle"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
    }

    /// A pod member whose first container is not runxl's cannot run anywhere runxl knows:
    /// create says so and makes nothing.
    @Test func aMemberOfAnUnknownPodIsRefusedAndLeavesNothing() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let orphan = try world.makeBundle("orphan", args: ["fake-echo", "x"], mutate: Self.member(of: "ghost"))
        let result = try world.run(["create", "--bundle", orphan, "orphan"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("pod of ghost"), "\(result.stderr)")
        #expect(result.stderr.contains("not a runxl container here"), "\(result.stderr)")
        #expect(try world.run(["state", "orphan"]).status != 0)
        #expect(world.filesUnderRoot().isEmpty)
    }

    /// A member's create SIGKILLed at each of its steps, then `delete --force` or `gc`: no
    /// record, no supervisor of it, and the pod untouched.
    @Test(arguments: ["after-claim", "after-domain-create", "after-supervisor-spawn", "before-save"], ["delete", "gc"])
    func aMemberCreateKilledAtEachStepIsRecoveredAndLeavesThePodRunning(point: String, recovery: String) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let infra = try world.makeBundle("infra", args: ["fake-sleep"])
        #expect(try world.run(["run", "--detach", "--bundle", infra, "infra"]).status == 0)
        let member = try world.makeBundle("member", args: ["fake-wait"], mutate: Self.member(of: "infra"))
        let killed = try world.run(["create", "--bundle", member, "member"], extraEnvironment: ["RUNXL_INJECT_KILL": point])
        #expect(killed.status == SIGKILL, "create must die at \(point): \(killed.stderr)")
        let recovered = recovery == "delete"
            ? try world.run(["delete", "--force", "member"]) : try world.run(["gc", "--cache", world.directory + "/cache"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try world.run(["state", "member"]).status != 0)
        try waitUntil { supervisors(of: "member", in: world).isEmpty }
        #expect(supervisors(of: "member", in: world).isEmpty)
        #expect(try status(world, "infra") == "running")
        #expect(try domainCount(world) == 1)
        #expect(try world.run(["delete", "--force", "infra"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
    }

    /// Live `runxl supervise ... ID` processes of this world.
    private func supervisors(of id: String, in world: RunxlProcess) -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> Int32? in
            guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard words.contains("supervise"), words.contains(world.root), words.last == id else { return nil }
            return pid
        }
    }

    /// The pod's first container, "infra", created and started: its VM is the pod's.
    private func startPod(in world: RunxlProcess) throws {
        let infra = try world.makeBundle("infra", args: ["fake-sleep"])
        #expect(try world.run(["create", "--bundle", infra, "infra"]).status == 0)
        #expect(try world.run(["start", "infra"]).status == 0)
    }

    private func domainCount(_ world: RunxlProcess) throws -> Int {
        guard let data = FileManager.default.contents(atPath: world.fakeDirectory + "/world.json"),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return 0 }
        if let domains = object["domains"] as? [Any] { return domains.count / 2 }
        if let domains = object["domains"] as? [String: Any] { return domains.count }
        return 0
    }
}
