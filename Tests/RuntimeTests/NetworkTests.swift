import FakeHypervisor
import Foundation
import GuestProtocol
import Hypervisor
import OCI
@testable import Runtime
import RunxlBase
import Testing

/// `ip -json` output of a podman (CNI bridge) namespace: lo, eth0 with an address, the subnet
/// route the kernel added and the default route CNI added.
private let podmanAddresses = #"""
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},{"ifindex":2,"link_index":5,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"link_type":"ether","address":"6A:1B:2C:3D:4E:5F","link_netnsid":0,"addr_info":[{"family":"inet","local":"10.88.0.7","prefixlen":16},{"family":"inet6","local":"fe80::681b:2cff:fe3d:4e5f","prefixlen":64}]}]
"""#
private let podmanRoutes = #"""
[{"dst":"default","gateway":"10.88.0.1","dev":"eth0","flags":[]},{"dst":"10.88.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.88.0.7","flags":[]},{"dst":"192.168.5.9","gateway":"10.88.0.2","dev":"eth0","flags":[]}]
"""#

@Suite struct NamespaceNetworkTests {
    @Test func readsEthernetInterfacesAndTheRoutesTheKernelDoesNotAdd() throws {
        let network = try NamespaceNetwork.guestNetwork(
            addresses: Array(podmanAddresses.utf8), routes: Array(podmanRoutes.utf8), namespacePath: "/run/netns/x")
        #expect(network.interfaces == [
            GuestNetwork.Interface(name: "eth0", mac: "6a:1b:2c:3d:4e:5f", mtu: 1500, addresses: [.init(address: "10.88.0.7", prefixLength: 16)])
        ])
        #expect(network.routes == [
            GuestNetwork.Route(destination: nil, gateway: "10.88.0.1", interface: "eth0"),
            GuestNetwork.Route(destination: .init(address: "192.168.5.9", prefixLength: 32), gateway: "10.88.0.2", interface: "eth0"),
        ])
    }

    /// A dual-stack namespace (podman's with an IPv6 subnet): the global IPv6 address is carried,
    /// the link-local one is not (the guest's kernel makes it from the same MAC), and `ip -6
    /// route`'s default route and static routes are, its kernel and multicast routes are not.
    @Test func carriesGlobalIPv6AddressesAndRoutes() throws {
        let addresses = #"[{"ifname":"eth0","mtu":1500,"link_type":"ether","address":"6a:1b:2c:3d:4e:5f","addr_info":["#
            + #"{"family":"inet","local":"10.88.0.7","prefixlen":16,"scope":"global"},"#
            + #"{"family":"inet6","local":"fd77::2","prefixlen":64,"scope":"global"},"#
            + #"{"family":"inet6","local":"fe80::681b:2cff:fe3d:4e5f","prefixlen":64,"scope":"link"}]}]"#
        let network = try NamespaceNetwork.guestNetwork(
            addresses: Array(addresses.utf8), routes: Array(podmanRoutes.utf8), namespacePath: "/run/netns/x")
        #expect(network.interfaces.first?.addresses == [.init(address: "10.88.0.7", prefixLength: 16), .init(address: "fd77::2", prefixLength: 64)])
        let routes6 = #"[{"dst":"fd77::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},"#
            + #"{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},"#
            + #"{"type":"multicast","dst":"ff00::/8","dev":"eth0","table":"local","protocol":"kernel","metric":256,"flags":[]},"#
            + #"{"dst":"fd99::1","gateway":"fd77::9","dev":"eth0","metric":1024,"flags":[]},"#
            + #"{"dst":"default","gateway":"fe80::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]"#
        let routes = try NamespaceNetwork.guestRoutes(Array(routes6.utf8), interfaces: network.interfaces, namespacePath: "/run/netns/x")
        #expect(routes == [
            GuestNetwork.Route(destination: .init(address: "fd99::1", prefixLength: 128), gateway: "fd77::9", interface: "eth0"),
            GuestNetwork.Route(destination: nil, gateway: "fe80::1", interface: "eth0"),
        ])
        let both = GuestNetwork(interfaces: network.interfaces, routes: network.routes + routes)
        #expect(try GuestNetwork.decode(both.encoded()) == both)
    }

    @Test func refusesOutputItCannotRead() {
        do {
            _ = try NamespaceNetwork.guestNetwork(addresses: Array("{".utf8), routes: Array("[]".utf8), namespacePath: "/run/netns/x")
            Issue.record("broken ip output must be refused")
        } catch {
            #expect(error.code == .networkFailed)
            #expect(error.message.contains("/run/netns/x"))
        }
    }

    @Test func vifNamesFitIFNAMSIZAndDifferPerContainer() throws {
        let first = NamespaceNetwork.vifName(id: try ContainerID(String(repeating: "a", count: 64)), interface: "eth0")
        let second = NamespaceNetwork.vifName(id: try ContainerID(String(repeating: "a", count: 63) + "b"), interface: "eth0")
        #expect(first.utf8.count <= 15 && second.utf8.count <= 15)
        #expect(first.hasPrefix("rxv") && first != second)
    }

    @Test func redirectsGoBothWays() {
        let text = NamespaceNetwork.redirects([.init(interface: "eth0", vif: "rxv1")])
        #expect(text.contains("qdisc add dev eth0 ingress\n"))
        #expect(text.contains("filter add dev eth0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev rxv1\n"))
        #expect(text.contains("filter add dev rxv1 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev eth0\n"))
    }

    @Test func missingNamespaceIsAClearError() throws {
        do {
            _ = try NamespaceNetwork().plan(namespacePath: "/run/netns/runxl-does-not-exist", id: try ContainerID("n"))
            Issue.record("a missing namespace must be refused")
        } catch {
            #expect(error.code == .networkFailed)
            #expect(error.message.contains("/run/netns/runxl-does-not-exist"))
        }
    }
}

@Suite struct GuestNetworkTests {
    @Test func roundTrips() throws {
        let network = GuestNetwork(
            interfaces: [.init(name: "eth0", mac: "6a:1b:2c:3d:4e:5f", mtu: 1450, addresses: [.init(address: "10.88.0.7", prefixLength: 16)])],
            routes: [.init(destination: nil, gateway: "10.88.0.1", interface: "eth0")])
        #expect(try GuestNetwork.decode(network.encoded()) == network)
    }

    @Test(arguments: [
        #"{"interfaces":[],"routes":[],"extra":1}"#,
        #"{"interfaces":[{"name":"eth0","mac":"x","mtu":1500,"addresses":[{"address":"1.2.3.4","prefixLength":33}]}],"routes":[]}"#,
        #"{"routes":[]}"#,
        "[]",
    ])
    func refusesWhatInitCannotApply(_ text: String) {
        #expect(throws: GuestProtocolError.self) { try GuestNetwork.decode(text) }
    }
}

/// A stand-in for the namespace side, recording what the engine asked of it.
final class RecordingNetwork: NetworkAttaching, @unchecked Sendable {
    var wired: [NetworkPlan] = []
    var unwired: [NetworkAttachment] = []
    var failWire = false
    let guest = GuestNetwork(
        interfaces: [.init(name: "eth0", mac: "6a:1b:2c:3d:4e:5f", mtu: 1500, addresses: [.init(address: "10.88.0.7", prefixLength: 16)])],
        routes: [.init(destination: nil, gateway: "10.88.0.1", interface: "eth0")])

    func plan(namespacePath: String, id: ContainerID) throws(RunxlError) -> NetworkPlan {
        NetworkPlan(
            guest: guest, vifs: [VifSpec(mac: "6a:1b:2c:3d:4e:5f", backendName: "rxvtest")],
            attachment: NetworkAttachment(namespacePath: namespacePath, links: [.init(interface: "eth0", vif: "rxvtest")]))
    }

    func wire(_ plan: NetworkPlan, domain: DomainID) throws(RunxlError) {
        if failWire { throw RunxlError(.networkFailed, "injected") }
        wired.append(plan)
    }

    func unwire(_ attachment: NetworkAttachment) { unwired.append(attachment) }
}

@Suite struct EngineNetworkTests {
    final class World {
        let directory = NSTemporaryDirectory() + "runxl-network-\(UUID().uuidString)"
        let fake: FakeHypervisor
        let engine: ContainerEngine
        let network = RecordingNetwork()
        init() throws {
            fake = try FakeHypervisor(directory: directory + "/fake")
            engine = ContainerEngine(
                store: StateStore(root: directory + "/root"), hypervisor: fake, hypervisorName: "fake",
                preparer: ValidatingGuestPreparer())
            engine.network = network
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        /// A namespace file under a name of its own: a symlink to this process's network
        /// namespace, since create opens each path and checks its type (NamespacePaths).
        func namespaceFile(_ name: String) throws -> String {
            let path = directory + "/netns-" + name
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/proc/self/ns/net")
            return path
        }

        func bundle(namespace: [String: String]?) throws -> String {
            let bundle = directory + "/bundle-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
            var config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": ["sh"], "cwd": "/"]]
            if let namespace { config["linux"] = ["namespaces": [namespace]] }
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
            return bundle
        }

        /// Stands in for `runxl supervise`: a process with a pid, for the record.
        let supervisor = SupervisorStart.custom { _, _ throws(RunxlError) in try Processes.spawn("/bin/sleep", ["30"]) }
    }

    @Test func aJoinedNamespaceGivesTheGuestAVifAndItsAddresses() throws {
        let world = try World()
        let id = try ContainerID("net")
        let namespace = try world.namespaceFile("podman-x")
        let bundle = try world.bundle(namespace: ["type": "network", "path": namespace])
        let record = try world.engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
        let domain = try #require(record.domainID)
        #expect(try world.fake.readStore("/fake/\(domain)/vifs") == "mac=6a:1b:2c:3d:4e:5f,vifname=rxvtest")
        #expect(world.network.wired.count == 1)
        // Said only after the wiring, as a hotplug script would: netback waits for it.
        #expect(try world.fake.readStore("/local/domain/0/backend/vif/\(domain)/0/hotplug-status") == "connected")
        #expect(try world.fake.readStore("/local/domain/\(domain)/data/runxl/network") == world.network.guest.encoded())
        #expect(try world.engine.state(id).network?.namespacePath == namespace)
        try world.engine.delete(id, force: true)
        #expect(world.network.unwired.map(\.namespacePath) == [namespace])
    }

    @Test(arguments: [nil, ["type": "network"], ["type": "ipc", "path": "/proc/self/ns/ipc"]])
    func noJoinedNetworkNamespaceMeansNoVif(_ namespace: [String: String]?) throws {
        let world = try World()
        let id = try ContainerID("plain")
        let record = try world.engine.create(id, options: .init(bundle: try world.bundle(namespace: namespace), supervisor: world.supervisor))
        let domain = try #require(record.domainID)
        #expect(try world.fake.readStore("/fake/\(domain)/vifs") == "")
        #expect(try world.fake.readStore("/local/domain/\(domain)/data/runxl/network") == nil)
        #expect(world.network.wired.isEmpty)
        try world.engine.delete(id, force: true)
    }

    /// A unikernel has no init to read `data/runxl/network`: its preparer gets the namespace's
    /// network to put on the command line, and the vif is wired only when the flavour can.
    final class UnikernelPreparer: GuestPreparing, @unchecked Sendable {
        let takesNetwork: Bool
        var given: GuestNetwork?
        init(takesNetwork: Bool) { self.takesNetwork = takesNetwork }
        func prepare(
            id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
        ) throws(RunxlError) -> PreparedGuest {
            given = network
            return PreparedGuest(
                domain: DomainSpec(name: DomainNaming.name(for: id), type: .pv, kernel: "/nonexistent/unikernel"),
                unikernel: "unikraft", takesNetwork: takesNetwork)
        }
    }

    @Test(arguments: [true, false])
    func aUnikernelGetsTheNamespacesNetworkOnlyWhenItsFlavourTakesIt(_ takesNetwork: Bool) throws {
        let world = try World()
        let preparer = UnikernelPreparer(takesNetwork: takesNetwork)
        let engine = ContainerEngine(
            store: world.engine.store, hypervisor: world.fake, hypervisorName: "fake", preparer: preparer)
        engine.network = world.network
        let id = try ContainerID("uk-net")
        let namespace = try world.namespaceFile("podman-uk")
        let bundle = try world.bundle(namespace: ["type": "network", "path": namespace])
        let record = try engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
        let domain = try #require(record.domainID)
        #expect(preparer.given == world.network.guest)
        #expect(world.network.wired.count == (takesNetwork ? 1 : 0))
        #expect(try world.fake.readStore("/fake/\(domain)/vifs") == (takesNetwork ? "mac=6a:1b:2c:3d:4e:5f,vifname=rxvtest" : ""))
        // Unikraft's netfront waits for the backend's Connected state, which needs this.
        #expect(try world.fake.readStore("/local/domain/0/backend/vif/\(domain)/0/hotplug-status") == (takesNetwork ? "connected" : nil))
        // No runxl-init inside to read it.
        #expect(try world.fake.readStore("/local/domain/\(domain)/data/runxl/network") == nil)
        try engine.delete(id, force: true)
        #expect(world.network.unwired.count == (takesNetwork ? 1 : 0))
    }

    @Test func aFailedWiringLeavesNothing() throws {
        let world = try World()
        world.network.failWire = true
        let id = try ContainerID("unwired")
        let namespace = try world.namespaceFile("podman-y")
        let bundle = try world.bundle(namespace: ["type": "network", "path": namespace])
        do {
            _ = try world.engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
            Issue.record("create must fail when the network cannot be wired")
        } catch {
            #expect(error.code == .networkFailed)
        }
        #expect(try world.fake.listDomains().isEmpty)
        #expect(!world.engine.store.exists(id))
        #expect(world.network.unwired.map(\.namespacePath) == [namespace])
    }

    /// A pod's second container: podman gives the first one's pid (`/proc/PID/ns/net`, which
    /// under runxl is a supervisor in dom0's namespace), containerd's CRI the sandbox's own path.
    /// Either way it is recognised as the pod's; here the first container's stand-in supervisor
    /// takes no requests, so its VM cannot start it: create says why and leaves nothing.
    /// (A pod whose VM takes it: PodCLITests.)
    @Test(arguments: [true, false])
    func aSecondContainerOfAPodWhoseVMCannotTakeItIsRefusedAndLeavesNothing(_ throughPid: Bool) throws {
        let world = try World()
        let namespace = try world.namespaceFile("pod")
        let infra = try world.engine.create(
            try ContainerID("infra"), options: .init(bundle: try world.bundle(namespace: ["type": "network", "path": namespace]), supervisor: world.supervisor))
        let infraPid = try #require(infra.pid)
        let joined = throughPid ? "/proc/\(infraPid)/ns/net" : namespace
        let app = try ContainerID("app")
        let appBundle = try world.bundle(namespace: ["type": "network", "path": joined])
        do {
            _ = try world.engine.create(app, options: .init(bundle: appBundle, supervisor: world.supervisor))
            Issue.record("create must refuse to join another runxl container's network namespace")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("runxl container infra"))
            #expect(error.message.contains("whose VM cannot take it: its supervisor takes no requests"), "\(error.message)")
        }
        #expect(!world.engine.store.exists(app))
        #expect(try world.fake.listDomains().count == 1)
        #expect(world.network.wired.count == 1)
        try world.engine.delete(try ContainerID("infra"), force: true)
        kill(infraPid, SIGKILL)
    }

    /// podman's pod without a network (containers.conf `netns = "none"`, as in the lab): its
    /// containers still join the infra's ipc and uts namespaces through the infra's pid. They
    /// used to run apart, each with its own hostname and ipc; now they are the pod's, and a pod
    /// whose VM cannot take them is refused before anything is made.
    @Test func aPodMemberSharingOnlyIpcAndUtsIsRecognisedBeforeAnythingIsMade() throws {
        let world = try World()
        let infra = try world.engine.create(
            try ContainerID("infra"), options: .init(bundle: try world.bundle(namespace: nil), supervisor: world.supervisor))
        let infraPid = try #require(infra.pid)
        let app = try ContainerID("app")
        let bundle = try world.bundle(namespace: ["type": "ipc", "path": "/proc/\(infraPid)/ns/ipc"])
        do {
            _ = try world.engine.create(app, options: .init(bundle: bundle, supervisor: world.supervisor))
            Issue.record("create must refuse a pod member")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("pod of runxl container infra (its ipc namespace /proc/\(infraPid)/ns/ipc)"), "\(error.message)")
        }
        #expect(!world.engine.store.exists(app))
        #expect(try world.fake.listDomains().count == 1)
        try world.engine.delete(try ContainerID("infra"), force: true)
        kill(infraPid, SIGKILL)
    }

    /// dom0's own namespace: wiring would redirect the host's interfaces into a guest.
    @Test func theHostsOwnNamespaceIsRefusedBeforeAnythingIsRead() throws {
        let id = try ContainerID("hostnet")
        do {
            _ = try NamespaceNetwork().plan(namespacePath: "/proc/self/ns/net", id: id)
            Issue.record("planning from runxl's own network namespace must fail")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("the one runxl itself runs in"))
        }
    }

    /// runc's setns refuses a path of another type or none at all; create does before it makes
    /// anything (runtime-tools' linux_ns_path_type).
    @Test(arguments: [
        (["type": "cgroup", "path": "/proc/self/ns/ipc"], "is a namespace of type ipc, not cgroup"),
        (["type": "network", "path": "/proc/self/ns/pid"], "is a namespace of type pid, not network"),
        (["type": "uts", "path": "/etc/hostname"], "is not a namespace file"),
        (["type": "ipc", "path": "/nonexistent/ns/ipc"], "cannot open /nonexistent/ns/ipc"),
    ])
    func aNamespacePathOfTheWrongTypeOrNoneFailsCreateAndLeavesNothing(namespace: [String: String], reason: String) throws {
        let world = try World()
        let id = try ContainerID("wrongtype")
        let bundle = try world.bundle(namespace: namespace)
        let error = #expect(throws: RunxlError.self) {
            _ = try world.engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("linux.namespaces[0]") == true)
        #expect(try world.fake.listDomains().isEmpty)
        #expect(!world.engine.store.exists(id))
        #expect(world.network.wired.isEmpty)
    }
}

/// The real `ip`/`tc`/netlink path on the host, with a veth end standing in for the vif (a vif
/// needs Xen; the lab proves that part). Runs only where namespaces and veths can be made.
@Suite(.serialized) struct HostNamespaceWiringTests {
    static func run(_ arguments: [String]) -> Int32 {
        guard let pid = try? Processes.spawn("/usr/bin/env", arguments, standardDescriptors: [0, 2, 2]) else { return -1 }
        return Processes.waitForExit(pid)
    }

    static let canMakeNamespaces: Bool = probeNamespaces()

    static func probeNamespaces() -> Bool {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter") else { return false }
        let name = "runxl-probe-\(getpid())"
        let made = run(["ip", "netns", "add", name]) == 0
            && run(["ip", "link", "add", "rxprobe\(getpid() % 10000)", "type", "veth", "peer", "name", "eth0", "netns", name]) == 0
        _ = run(["ip", "netns", "del", name])
        return made
    }

    @Test(.enabled(if: canMakeNamespaces)) func readsWiresAndUnwiresANamespace() throws {
        let suffix = String(getpid() % 100000)
        let namespace = "runxl-test-\(suffix)"
        // What netback would name the first vif of domain `domain`; wiring renames it `stand`.
        let domain = UInt32(30000 + getpid() % 30000)
        let kernelName = "vif\(domain).0"
        let stand = "rxvt\(suffix)"
        let path = "/run/netns/\(namespace)"
        defer {
            _ = Self.run(["ip", "netns", "del", namespace])
            _ = Self.run(["ip", "link", "del", kernelName])
        }
        #expect(Self.run(["ip", "netns", "add", namespace]) == 0)
        #expect(Self.run(["ip", "link", "add", "peer\(suffix)", "type", "veth", "peer", "name", "eth0", "netns", namespace]) == 0)
        #expect(Self.run(["ip", "link", "add", kernelName, "type", "veth", "peer", "name", "other\(suffix)"]) == 0)
        for command in [["addr", "add", "10.99.0.2/24", "dev", "eth0"], ["link", "set", "eth0", "up"], ["route", "add", "default", "via", "10.99.0.1"]] {
            #expect(Self.run(["ip", "-n", namespace] + command) == 0)
        }

        // This host has no Xen: a stand-in sysfs says netback is loaded.
        let sysfs = NSTemporaryDirectory() + "runxl-sysfs-\(suffix)"
        try FileManager.default.createDirectory(atPath: sysfs + "/bus/xen-backend/drivers/vif", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: sysfs) }
        let read = try NamespaceNetwork(sysfs: sysfs).plan(namespacePath: path, id: try ContainerID("wired"))
        let eth0 = try #require(read.guest.interfaces.first)
        #expect(eth0.name == "eth0" && eth0.addresses == [.init(address: "10.99.0.2", prefixLength: 24)])
        #expect(read.guest.routes == [.init(destination: nil, gateway: "10.99.0.1", interface: "eth0")])
        #expect(read.vifs.first?.mac == eth0.mac)

        var plan = read
        plan.attachment.links = [.init(interface: "eth0", vif: stand)]
        try NamespaceNetwork().wire(plan, domain: DomainID(domain))
        let filters = try ToolRun(path: "/usr/bin/nsenter", arguments: ["--net=" + path, "tc", "filter", "show", "dev", "eth0", "ingress"], timeoutSeconds: 20).output(failing: .networkFailed)
        #expect(filters.contains("mirred") && filters.contains(stand))
        let link = try ToolRun(path: "/usr/bin/nsenter", arguments: ["--net=" + path, "ip", "link", "show", "dev", stand], timeoutSeconds: 20).output(failing: .networkFailed)
        #expect(link.contains("UP"))

        NamespaceNetwork().unwire(plan.attachment)
        let after = try ToolRun(path: "/usr/bin/nsenter", arguments: ["--net=" + path, "tc", "qdisc", "show", "dev", "eth0"], timeoutSeconds: 20).output(failing: .networkFailed)
        #expect(!after.contains("ingress"))
    }
}

/// dom0 without xen-netback: libxl would wait ~20 s for the vif's backend and fail vaguely.
@Suite struct NetworkBackendTests {
    @Test func aMissingNetbackIsSaidBeforeAnyDomainExists() throws {
        let sysfs = NSTemporaryDirectory() + "runxl-sysfs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: sysfs) }
        try FileManager.default.createDirectory(atPath: sysfs + "/bus/xen-backend/drivers/vbd", withIntermediateDirectories: true)
        do {
            try NamespaceNetwork.requireNetworkBackend(sysfs: sysfs)
            Issue.record("a dom0 without netback must be refused")
        } catch {
            #expect(error.code == .networkFailed)
            #expect(error.message.contains("modprobe xen-netback"), "\(error.message)")
        }
        try FileManager.default.createDirectory(atPath: sysfs + "/bus/xen-backend/drivers/vif", withIntermediateDirectories: true)
        try NamespaceNetwork.requireNetworkBackend(sysfs: sysfs)
        try FileManager.default.removeItem(atPath: sysfs + "/bus")
        try FileManager.default.createDirectory(atPath: sysfs + "/module/xen_netback", withIntermediateDirectories: true)
        try NamespaceNetwork.requireNetworkBackend(sysfs: sysfs)
    }
}
