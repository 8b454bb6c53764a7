import JSON
public import GuestProtocol
public import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// What create did to the container's network namespace; kept in the record so that delete can
/// take the redirects out of a namespace that outlives the container (a Kubernetes pod's).
public struct NetworkAttachment: Codable, Sendable, Equatable {
    public struct Link: Codable, Sendable, Equatable {
        /// The namespace's own interface (podman's and CNI's `eth0`).
        public var interface: String
        /// The vif backend moved into the namespace to stand in for the guest.
        public var vif: String
        public init(interface: String, vif: String) {
            self.interface = interface
            self.vif = vif
        }
    }

    public var namespacePath: String
    public var links: [Link]

    public init(namespacePath: String, links: [Link]) {
        self.namespacePath = namespacePath
        self.links = links
    }
}

/// The network side of create, read from the namespace before the domain exists.
public struct NetworkPlan: Sendable, Equatable {
    /// For init, through `HostMessage.network`.
    public var guest: GuestNetwork
    /// One per interface, with the interface's MAC, so the guest answers for that address.
    public var vifs: [VifSpec]
    public var attachment: NetworkAttachment
    /// The Xen device id of the first of `vifs`: the domain's vifs before them, if any.
    public var firstDeviceID = 0
}

/// Gives a guest the network of an OCI network namespace, the way Kata Containers does for a
/// VM: the namespace's interface stays where podman or CNI put it; the vif backend joins it in
/// the namespace and tc redirects every frame between the two, so the bridge, NAT and firewall
/// rules set up for the veth's MAC and address apply to the guest unchanged.
public protocol NetworkAttaching: Sendable {
    /// Reads the namespace. Nothing is changed, so a failure needs no undo.
    func plan(namespacePath: String, id: ContainerID) throws(RunxlError) -> NetworkPlan
    /// After the domain exists (paused): moves each vif into the namespace and redirects.
    func wire(_ plan: NetworkPlan, domain: DomainID) throws(RunxlError)
    /// Takes the redirects out again; best effort, since the namespace may be gone already.
    func unwire(_ attachment: NetworkAttachment)
}

public struct NamespaceNetwork: NetworkAttaching {
    /// Where the kernel's sysfs is, for the network backend check: a test's stand-in
    /// directory says netback is there on a host without Xen.
    let sysfs: String

    public init() { self.init(sysfs: "/sys") }

    init(sysfs: String) { self.sysfs = sysfs }

    /// `ip` and `tc` run through nsenter: iproute2's `-n` only takes names under /run/netns,
    /// while the runtime-spec gives any path (/proc/PID/ns/net, containerd's /var/run/netns/...).
    /// Through these tools rather than a netlink client of our own: their batch modes take
    /// every change in one process and their errors are already readable.
    private static func inNamespace(_ path: String, _ tool: String, options: [String] = []) throws(RunxlError) -> ToolRun {
        ToolRun(
            path: try located("nsenter", package: "util-linux"),
            arguments: ["--net=" + path, try located(tool, package: "iproute2")] + options + ["-batch", "-"],
            // A bound on tools that should take milliseconds, so a wedged one cannot hang create.
            timeoutSeconds: 20)
    }

    /// Whether two namespace files are one namespace: nsfs gives each namespace one inode.
    static func sameNamespace(_ first: String, _ second: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    private static func located(_ tool: String, package: String) throws(RunxlError) -> String {
        guard let path = ToolRun.find(tool) else {
            throw RunxlError(.networkFailed, "networking needs \(tool), which is not installed (Debian: apt-get install \(package))")
        }
        return path
    }

    public func plan(namespacePath: String, id: ContainerID) throws(RunxlError) -> NetworkPlan {
        guard FileSystem.exists(namespacePath) else {
            throw RunxlError(.networkFailed, "network namespace \(namespacePath) (linux.namespaces in config.json) does not exist")
        }
        // wire() would move each vif "into" it and redirect the interfaces' traffic to the guest.
        if Self.sameNamespace(namespacePath, "/proc/self/ns/net") {
            throw RunxlError(
                .unsupported,
                "network namespace \(namespacePath) is the one runxl itself runs in (the host's): a guest's vif would take "
                    + "over the host's interfaces. Give the container a namespace of its own (podman's bridge network) or none")
        }
        let output = try Self.inNamespace(namespacePath, "ip", options: ["-json"])
            .output(input: Array("addr show\nroute show\n".utf8), failing: .networkFailed)
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("[") }
        guard lines.count == 2 else {
            throw RunxlError(.networkFailed, "cannot read network namespace \(namespacePath): ip printed \(lines.count) JSON documents, not 2")
        }
        var guest = try Self.guestNetwork(addresses: Array(lines[0].utf8), routes: Array(lines[1].utf8), namespacePath: namespacePath)
        // IPv6 routes are another family's table: read only when an interface has an IPv6 address.
        if guest.interfaces.contains(where: { $0.addresses.contains { $0.address.contains(":") } }) {
            let routes6 = try Self.inNamespace(namespacePath, "ip", options: ["-json", "-6"])
                .output(input: Array("route show\n".utf8), failing: .networkFailed)
            guard let line = routes6.split(separator: "\n").first(where: { $0.hasPrefix("[") }) else {
                throw RunxlError(.networkFailed, "cannot read the IPv6 routes of network namespace \(namespacePath)")
            }
            guest.routes += try Self.guestRoutes(Array(line.utf8), interfaces: guest.interfaces, namespacePath: namespacePath)
        }
        let links = guest.interfaces.map { NetworkAttachment.Link(interface: $0.name, vif: Self.vifName(id: id, interface: $0.name)) }
        if !links.isEmpty { try Self.requireNetworkBackend(sysfs: sysfs) }
        var vifs: [VifSpec] = []
        for (interface, link) in zip(guest.interfaces, links) {
            vifs.append(VifSpec(mac: interface.mac, bridge: nil, backendName: link.vif))
        }
        return NetworkPlan(guest: guest, vifs: vifs, attachment: NetworkAttachment(namespacePath: namespacePath, links: links))
    }

    /// A vif needs dom0's network backend, xen-netback, which registers the `vif` driver on the
    /// xen-backend bus. Without it libxl waits for a backend that never answers and fails the
    /// whole create some 20 s later with "unable to add vif devices"; said here, before the
    /// domain exists, the user learns what to load. Xen's xencommons loads it on a configured
    /// host; the lab's dom0 loads it by hand (lab-common.sh).
    static func requireNetworkBackend(sysfs: String = "/sys") throws(RunxlError) {
        guard !FileSystem.exists("\(sysfs)/bus/xen-backend/drivers/vif"), !FileSystem.exists("\(sysfs)/module/xen_netback") else { return }
        throw RunxlError(
            .networkFailed,
            "the container's network namespace has interfaces, so its guest needs a vif, and dom0 has no network backend: "
                + "load xen-netback (modprobe xen-netback; Xen's xencommons does at boot)")
    }

    public func wire(_ plan: NetworkPlan, domain: DomainID) throws(RunxlError) {
        let path = plan.attachment.namespacePath
        guard !plan.attachment.links.isEmpty else { return }
        let mtus = Dictionary(plan.guest.interfaces.map { ($0.name, $0.mtu) }, uniquingKeysWith: { first, _ in first })
        var linkCommands = ""
        for (offset, link) in plan.attachment.links.enumerated() {
            // netback names the backend vif<domid>.<devid>; the name in xenstore's `vifname`
            // is applied by the hotplug script, which runxl replaces by this wiring. Renamed in
            // the namespace: two containers' `vifN.0` never meet there, and a name that says
            // runxl is what a person running `ip link` there should see.
            let kernelName = "vif\(domain.rawValue).\(plan.firstDeviceID + offset)"
            try NetlinkLinks.move(kernelName, toNamespaceAt: path)
            linkCommands += "link set dev \(kernelName) name \(link.vif)\n"
            linkCommands += "link set dev \(link.vif) mtu \(mtus[link.interface] ?? 1500) up\n"
        }
        _ = try Self.inNamespace(path, "ip").output(input: Array(linkCommands.utf8), failing: .networkFailed)
        _ = try Self.inNamespace(path, "tc").output(input: Array(Self.redirects(plan.attachment.links).utf8), failing: .networkFailed)
    }

    public func unwire(_ attachment: NetworkAttachment) {
        guard FileSystem.exists(attachment.namespacePath), !attachment.links.isEmpty,
            let command = try? Self.inNamespace(attachment.namespacePath, "tc", options: ["-force"])
        else { return }
        // The vif's own qdisc went with the domain; the namespace interface keeps its ingress
        // qdisc (and the redirect to a device that no longer exists) until this removes it.
        let commands = attachment.links.map { "qdisc del dev \($0.interface) ingress\n" }.joined()
        _ = try? command.run(input: Array(commands.utf8))
    }

    /// tc batch lines: everything arriving on either side leaves through the other. `u32 match
    /// u8 0 0` matches every frame, whatever its protocol.
    static func redirects(_ links: [NetworkAttachment.Link]) -> String {
        var lines: [String] = []
        for link in links {
            for (from, to) in [(link.interface, link.vif), (link.vif, link.interface)] {
                lines.append("qdisc add dev \(from) ingress")
                lines.append("filter add dev \(from) parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev \(to)")
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// `rxv` and 12 hex digits of the id and interface: at most 15 bytes (IFNAMSIZ), and unique
    /// enough that two containers' vifs never meet in dom0 before they move.
    static func vifName(id: ContainerID, interface: String) -> String {
        var hash = SHA256()
        hash.update(id.rawValue + "/" + interface)
        return "rxv" + String(hash.finalizeHex().prefix(12))
    }

    // MARK: reading `ip -json`

    private struct IPLink: Decodable {
        var ifname: String
        var mtu: Int?
        var link_type: String?
        var address: String?
        var addr_info: [IPAddress]?
    }

    private struct IPAddress: Decodable {
        var family: String?
        var local: String?
        var prefixlen: Int?
        var scope: String?
    }

    private struct IPRoute: Decodable {
        var dst: String?
        var gateway: String?
        var dev: String?
        var `protocol`: String?
        var type: String?
    }

    /// The guest's network from `ip -json addr show` and `ip -json route show` in the namespace:
    /// every Ethernet interface with its IPv4 addresses and global IPv6 ones (the guest's kernel
    /// makes the link-local one from the same MAC), and the routes through them that the kernel
    /// does not add by itself with an address (the default route, above all).
    static func guestNetwork(addresses: [UInt8], routes: [UInt8], namespacePath: String) throws(RunxlError) -> GuestNetwork {
        let links: [IPLink]
        let routeList: [IPRoute]
        do {
            links = try JSONValue.parse(addresses).decoded(as: [IPLink].self)
            routeList = try JSONValue.parse(routes).decoded(as: [IPRoute].self)
        } catch {
            throw RunxlError(.networkFailed, "cannot read network namespace \(namespacePath): ip printed JSON runxl does not understand", cause: error)
        }
        var interfaces: [GuestNetwork.Interface] = []
        for link in links where link.link_type == "ether" && link.ifname != "lo" {
            guard let mac = link.address?.lowercased(), Self.isUnicastMAC(mac) else { continue }
            let addresses = (link.addr_info ?? []).compactMap { info -> GuestNetwork.Address? in
                guard info.family == "inet" || (info.family == "inet6" && info.scope == "global"),
                    let local = info.local, let length = info.prefixlen
                else { return nil }
                return GuestNetwork.Address(address: local, prefixLength: length)
            }
            interfaces.append(GuestNetwork.Interface(name: link.ifname, mac: mac, mtu: link.mtu ?? 1500, addresses: addresses))
        }
        return GuestNetwork(
            interfaces: interfaces, routes: try usableRoutes(routeList, interfaces: interfaces, namespacePath: namespacePath))
    }

    /// The routes of `ip -json [-6] route show` that the guest needs.
    static func guestRoutes(_ json: [UInt8], interfaces: [GuestNetwork.Interface], namespacePath: String) throws(RunxlError) -> [GuestNetwork.Route] {
        let routeList: [IPRoute]
        do {
            routeList = try JSONValue.parse(json).decoded(as: [IPRoute].self)
        } catch {
            throw RunxlError(.networkFailed, "cannot read network namespace \(namespacePath): ip printed JSON runxl does not understand", cause: error)
        }
        return try usableRoutes(routeList, interfaces: interfaces, namespacePath: namespacePath)
    }

    private static func usableRoutes(_ routeList: [IPRoute], interfaces: [GuestNetwork.Interface], namespacePath: String) throws(RunxlError) -> [GuestNetwork.Route] {
        let names = Set(interfaces.map(\.name))
        var guestRoutes: [GuestNetwork.Route] = []
        for route in routeList {
            guard let device = route.dev, names.contains(device), route.protocol != "kernel",
                route.type == nil || route.type == "unicast", let destination = route.dst
            else { continue }
            guestRoutes.append(GuestNetwork.Route(
                destination: destination == "default" ? nil : try Self.address(destination, namespacePath: namespacePath),
                gateway: route.gateway, interface: device))
        }
        return guestRoutes
    }

    private static func address(_ text: String, namespacePath: String) throws(RunxlError) -> GuestNetwork.Address {
        let parts = text.split(separator: "/")
        let hostLength = text.contains(":") ? 128 : 32
        guard let address = parts.first, parts.count <= 2, let length = parts.count == 2 ? Int(parts[1]) : hostLength else {
            throw RunxlError(.networkFailed, "network namespace \(namespacePath) has a route to '\(text)', which runxl cannot read")
        }
        return GuestNetwork.Address(address: String(address), prefixLength: length)
    }

    private static func isUnicastMAC(_ mac: String) -> Bool {
        let octets = mac.split(separator: ":")
        guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }),
            let first = UInt8(octets[0], radix: 16)
        else { return false }
        return first & 1 == 0 && mac != "00:00:00:00:00:00"
    }
}
