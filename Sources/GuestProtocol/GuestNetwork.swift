import JSON

/// The network of the container's namespace, as runxl-init must recreate it inside the guest.
///
/// podman and CNI configure an interface (a veth called `eth0`) in the network namespace they
/// name in config.json; runc's process would use it directly. A guest has its own kernel, so the
/// host reads that interface's addresses and routes at create, gives the guest a vif with the
/// same MAC (the namespace's traffic is redirected to it), and writes this description to
/// `HostMessage.network`; init configures the guest interface with that MAC the same way.
/// IPv4 only: ioctls can set it without a netlink client in PID 1.
public struct GuestNetwork: Sendable, Equatable {
    /// A xenstore value holds at most 4096 bytes (XENSTORE_PAYLOAD_MAX minus the path).
    public static let maxEncodedSize = 3072

    public struct Address: Sendable, Equatable {
        /// Dotted quad, or an IPv6 address in its text form.
        public var address: String
        public var prefixLength: Int
        public init(address: String, prefixLength: Int) {
            self.address = address
            self.prefixLength = prefixLength
        }
    }

    public struct Interface: Sendable, Equatable {
        /// The name in the namespace (`eth0`); the guest's interface is renamed to it.
        public var name: String
        /// `aa:bb:cc:dd:ee:ff`, lower case: how init finds the guest interface.
        public var mac: String
        public var mtu: Int
        /// The first one is the interface's address; ioctls give an interface one IPv4 address.
        public var addresses: [Address]
        public init(name: String, mac: String, mtu: Int, addresses: [Address]) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.addresses = addresses
        }
    }

    public struct Route: Sendable, Equatable {
        /// nil for the default route.
        public var destination: Address?
        public var gateway: String?
        public var interface: String
        public init(destination: Address?, gateway: String?, interface: String) {
            self.destination = destination
            self.gateway = gateway
            self.interface = interface
        }
    }

    public var interfaces: [Interface]
    /// Routes beyond the subnet routes the kernel adds with each address.
    public var routes: [Route]

    public init(interfaces: [Interface], routes: [Route]) {
        self.interfaces = interfaces
        self.routes = routes
    }

    public func encoded() -> String {
        let interfaces = self.interfaces.map { interface -> JSONValue in
            .object([
                "name": .string(interface.name), "mac": .string(interface.mac),
                "mtu": .number(String(interface.mtu)), "addresses": .array(interface.addresses.map(\.json)),
            ])
        }
        let routes = self.routes.map { route -> JSONValue in
            var members: [String: JSONValue] = [:]
            if let destination = route.destination { members["destination"] = destination.json }
            if let gateway = route.gateway { members["gateway"] = .string(gateway) }
            members["interface"] = .string(route.interface)
            return .object(members)
        }
        return String(decoding: JSONValue.object(["interfaces": .array(interfaces), "routes": .array(routes)]).serialized(pretty: false), as: UTF8.self)
    }

    /// Parses what the host wrote; every way it can be wrong is an error naming the field, since
    /// init (PID 1) reads it.
    public static func decode(_ text: String) throws(GuestProtocolError) -> GuestNetwork {
        do {
            let bytes = Array(text.utf8)
            guard bytes.count <= maxEncodedSize else {
                throw GuestProtocolError("network description is \(bytes.count) bytes, more than \(maxEncodedSize)")
            }
            let root = try ObjectReader(try JSONValue.parse(bytes), path: "network")
            let interfaces = try root.require("interfaces") {
                try $0.array { element -> Interface in
                    let object = try ObjectReader(element)
                    let interface = Interface(
                        name: try object.require("name") { try $0.string(noNUL: true) },
                        mac: try object.require("mac") { try $0.string(noNUL: true) },
                        mtu: try object.require("mtu") { try $0.int() },
                        addresses: try object.require("addresses") { try $0.array { try Address(try ObjectReader($0)) } })
                    try object.rejectUnknown()
                    return interface
                }
            }
            let routes = try root.require("routes") {
                try $0.array { element -> Route in
                    let object = try ObjectReader(element)
                    let route = Route(
                        destination: try object.optional("destination") { try Address(try ObjectReader($0)) },
                        gateway: try object.optional("gateway") { try $0.string(noNUL: true) },
                        interface: try object.require("interface") { try $0.string(noNUL: true) })
                    try object.rejectUnknown()
                    return route
                }
            }
            try root.rejectUnknown()
            return GuestNetwork(interfaces: interfaces, routes: routes)
        } catch let error as GuestProtocolError {
            throw error
        } catch {
            throw GuestProtocolError("network description: \(error)")
        }
    }
}

extension GuestNetwork.Address {
    var json: JSONValue {
        .object(["address": .string(address), "prefixLength": .number(String(prefixLength))])
    }

    init(_ object: ObjectReader) throws {
        self.init(
            address: try object.require("address") { try $0.string(noNUL: true) },
            prefixLength: try object.require("prefixLength") { try $0.int() })
        let maximum = address.contains(":") ? 128 : 32
        guard (0...maximum).contains(prefixLength) else {
            throw GuestProtocolError("\(object.path).prefixLength \(prefixLength) is not 0 to \(maximum)")
        }
        try object.rejectUnknown()
    }
}
