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

    /// Every order of deleting a pod of three (its first container and two running members,
    /// one of them grown into the pod's VM): no domain, record, file or supervisor is left.
    @Test(arguments: [
        ["pause", "a", "b"], ["pause", "b", "a"], ["a", "pause", "b"], ["b", "pause", "a"], ["a", "b", "pause"], ["b", "a", "pause"],
    ])
    func deletingAPodInAnyOrderLeavesNothing(order: [String]) throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let cri = ["io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pause"]
        let sandbox = try world.makeBundle("pause", args: ["fake-sleep"]) { config in
            config["annotations"] = ["io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pause"]
        }
        #expect(try world.run(["run", "--detach", "--bundle", sandbox, "pause"]).status == 0)
        for name in ["a", "b"] {
            let member = try world.makeBundle(name, args: ["fake-wait"]) { config in
                config["annotations"] = cri
                if name == "a" { config["linux"] = ["resources": ["memory": ["limit": 64 << 20]]] }
            }
            #expect(try world.run(["run", "--detach", "--bundle", member, name]).status == 0)
        }
        for name in order {
            let deleted = try world.run(["delete", "--force", name])
            #expect(deleted.status == 0, "\(name): \(deleted.stderr)")
        }
        try waitUntil { ["pause", "a", "b"].allSatisfy { supervisors(of: $0, in: world).isEmpty } }
        #expect(!world.fakeDomainsRemain())
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
        // A sandbox that grows, and a member with a limit: its share must come back too.
        let infra = try world.makeBundle("infra", args: ["fake-sleep"]) { config in
            config["annotations"] = ["io.kubernetes.cri.container-type": "sandbox"]
        }
        #expect(try world.run(["run", "--detach", "--bundle", infra, "infra"]).status == 0)
        let boot = try #require(try onlyDomain(world))
        let member = try world.makeBundle("member", args: ["fake-wait"]) { config in
            Self.member(of: "infra")(&config)
            config["linux"] = ["resources": ["memory": ["limit": 100 << 20]]]
        }
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
        #expect(try onlyDomain(world) == boot, "the pod's VM is back to its size")
        #expect(try world.run(["delete", "--force", "infra"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
    }

    /// A CRI sandbox's VM is made able to grow (the pod ceilings' defaults, 1024 MiB and 4
    /// vCPUs); each member's limits grow it at create, past the ceiling create refuses and
    /// makes nothing, and each member's delete gives its share back.
    @Test func aSandboxsVMGrowsWithItsMembersLimitsWithinItsCeiling() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let sandbox = try world.makeBundle("pause", args: ["fake-sleep"]) { config in
            config["annotations"] = ["io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pause"]
        }
        #expect(try world.run(["create", "--bundle", sandbox, "pause"]).status == 0)
        #expect(try world.run(["start", "pause"]).status == 0)
        let boot = try #require(try onlyDomain(world))
        #expect(boot.vcpus == 1)

        func member(_ name: String, memoryMiB: Int, cpuQuota: Int?) throws -> String {
            try world.makeBundle(name, args: ["fake-wait"]) { config in
                config["annotations"] = ["io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pause"]
                var linux = config["linux"] as? [String: Any] ?? [:]
                var resources: [String: Any] = ["memory": ["limit": memoryMiB << 20]]
                if let cpuQuota { resources["cpu"] = ["quota": cpuQuota, "period": 100_000] }
                linux["resources"] = resources
                config["linux"] = linux
            }
        }
        #expect(try world.run(["create", "--bundle", try member("web", memoryMiB: 128, cpuQuota: 150_000), "web"]).status == 0)
        #expect(try onlyDomain(world)?.memoryMiB == boot.memoryMiB + 128)
        #expect(try onlyDomain(world)?.vcpus == 3, "1 + ceil(1.5)")
        #expect(try world.run(["create", "--bundle", try member("db", memoryMiB: 64, cpuQuota: nil), "db"]).status == 0)
        #expect(try onlyDomain(world)?.memoryMiB == boot.memoryMiB + 192)

        let huge = try world.run(["create", "--bundle", try member("huge", memoryMiB: 1024, cpuQuota: 800_000), "huge"])
        #expect(huge.status != 0)
        #expect(huge.stderr.contains("can grow to 1024 MiB and 448 MiB are taken"), "\(huge.stderr)")
        #expect(try world.run(["state", "huge"]).status != 0, "nothing made past the ceiling")
        #expect(try onlyDomain(world)?.memoryMiB == boot.memoryMiB + 192, "and the VM unchanged")

        #expect(try world.run(["delete", "--force", "web"]).status == 0)
        #expect(try onlyDomain(world)?.memoryMiB == boot.memoryMiB + 64)
        #expect(try onlyDomain(world)?.vcpus == 1)
        #expect(try world.run(["delete", "--force", "db"]).status == 0)
        #expect(try onlyDomain(world)?.memoryMiB == boot.memoryMiB)
        #expect(try world.run(["delete", "--force", "pause"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
    }

    /// A VM created without room to grow (podman's infra: nothing marks it at create) keeps its
    /// size; its members share it, their limits are not counted.
    @Test func aPodWithoutCeilingKeepsItsSize() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        try startPod(in: world)
        let boot = try #require(try onlyDomain(world))
        let limited = try world.makeBundle("limited", args: ["fake-wait"]) { config in
            Self.member(of: "infra")(&config)
            config["linux"] = ["resources": ["memory": ["limit": 4096 << 20]]]
        }
        #expect(try world.run(["create", "--bundle", limited, "limited"]).status == 0)
        #expect(try onlyDomain(world) == boot)
        #expect(try world.run(["delete", "--force", "limited"]).status == 0)
        #expect(try world.run(["delete", "--force", "infra"]).status == 0)
    }

    /// The one fake domain's memory and vCPUs.
    private func onlyDomain(_ world: RunxlProcess) throws -> FakeDomainSize? {
        guard let data = FileManager.default.contents(atPath: world.fakeDirectory + "/world.json"),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let domains = object["domains"] as? [Any], domains.count == 2, let info = domains[1] as? [String: Any],
            let memory = info["memoryKiB"] as? Int, let vcpus = info["vcpus"] as? Int
        else { return nil }
        return FakeDomainSize(memoryMiB: memory / 1024, vcpus: vcpus)
    }

    struct FakeDomainSize: Equatable {
        var memoryMiB: Int
        var vcpus: Int
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
