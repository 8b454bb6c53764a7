import Glibc
import RunxlBase
import GuestProtocol

/// Gives the guest the network the host read from the container's namespace (`GuestNetwork`):
/// the vif whose MAC is the namespace interface's gets that interface's name, MTU, IPv4 address,
/// IPv6 addresses and routes. ioctls, not netlink: a few fixed-size requests are all PID 1 needs
/// (an AF_INET6 socket takes `in6_ifreq` and `in6_rtmsg` for the IPv6 ones).
enum GuestNetworkSetup {
    /// netfront registers the interface while probing, which starts when its module loads; a
    /// missing interface after this long means the kernel has no netfront or no vif was given.
    static let interfaceWaitSeconds = 10.0

    private static let getFlags: UInt = 0x8913  // SIOCGIFFLAGS
    private static let setFlags: UInt = 0x8914  // SIOCSIFFLAGS
    private static let setAddress: UInt = 0x8916  // SIOCSIFADDR
    private static let setNetmask: UInt = 0x891C  // SIOCSIFNETMASK
    private static let setMTU: UInt = 0x8922  // SIOCSIFMTU
    private static let setName: UInt = 0x8923  // SIOCSIFNAME
    private static let getHardwareAddress: UInt = 0x8927  // SIOCGIFHWADDR
    private static let addRoute: UInt = 0x890B  // SIOCADDRT

    /// runc brings `lo` up in every new network namespace; a guest is one.
    static func bringUpLoopback() {
        guard let socket = try? controlSocket() else { return }
        defer { close(socket) }
        try? setUp("lo", socket: socket)
    }

    static func apply(_ network: GuestNetwork) throws(InitFailure) {
        let socket = try controlSocket()
        defer { close(socket) }
        for interface in network.interfaces {
            let found = try waitForInterface(mac: interface.mac, socket: socket)
            if found != interface.name {
                var request = InterfaceRequest(found)
                request.setName(interface.name)
                try request.perform(setName, socket: socket, "rename \(found) to \(interface.name)")
            }
            var mtu = InterfaceRequest(interface.name)
            mtu.setInt32(Int32(interface.mtu))
            try mtu.perform(setMTU, socket: socket, "set the MTU of \(interface.name) to \(interface.mtu)")
            if let address = interface.addresses.first(where: { !$0.address.contains(":") }) {
                var request = InterfaceRequest(interface.name)
                request.setAddress(try ipv4(address.address))
                try request.perform(setAddress, socket: socket, "set address \(address.address) on \(interface.name)")
                var mask = InterfaceRequest(interface.name)
                mask.setAddress(netmask(address.prefixLength))
                try mask.perform(setNetmask, socket: socket, "set the netmask /\(address.prefixLength) on \(interface.name)")
            }
            let ipv6 = interface.addresses.filter { $0.address.contains(":") }
            if !ipv6.isEmpty {
                // The namespace already owns these addresses: no duplicate detection to wait for.
                try writeIPv6Setting("accept_dad", "0", interface: interface.name)
            }
            try setUp(interface.name, socket: socket)
            for address in ipv6 { try addIPv6(address, interface: interface.name) }
        }
        for route in network.routes {
            if route.gateway?.contains(":") == true || route.destination?.address.contains(":") == true {
                try addIPv6(route)
            } else {
                try add(route, socket: socket)
            }
        }
    }

    private static let addIPv6Route: UInt = 0x890B  // SIOCADDRT on an AF_INET6 socket: in6_rtmsg

    private static func ipv6Socket() throws(InitFailure) -> Int32 {
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let code = errno
            throw InitFailure("the container's namespace has IPv6 addresses, and the guest kernel has no IPv6: \(errnoText(code))")
        }
        return fd
    }

    private static func writeIPv6Setting(_ key: String, _ value: String, interface: String) throws(InitFailure) {
        let path = "/proc/sys/net/ipv6/conf/\(interface)/\(key)"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw InitFailure("cannot set \(path) (does the guest kernel have IPv6?): \(errnoText(code))")
        }
        defer { close(fd) }
        _ = Descriptors.writeAllIfPossible(fd, Array(value.utf8))
    }

    /// struct in6_ifreq: the address (16 bytes), the prefix length (u32), the interface index.
    private static func addIPv6(_ address: GuestNetwork.Address, interface: String) throws(InitFailure) {
        let fd = try ipv6Socket()
        defer { close(fd) }
        var request = [UInt8](repeating: 0, count: 24)
        request.replaceSubrange(0..<16, with: try ipv6(address.address))
        withUnsafeBytes(of: UInt32(address.prefixLength).littleEndian) { request.replaceSubrange(16..<20, with: $0) }
        withUnsafeBytes(of: Int32(bitPattern: if_nametoindex(interface)).littleEndian) { request.replaceSubrange(20..<24, with: $0) }
        let result = request.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return ioctl(fd, setAddress, base)
        }
        if result != 0 && errno != EEXIST {
            let code = errno
            throw InitFailure("cannot add \(address.address)/\(address.prefixLength) to \(interface): \(errnoText(code))")
        }
    }

    /// struct in6_rtmsg on LP64: dst at 0, src at 16, gateway at 32, type at 48, dst_len at 52,
    /// src_len at 54, metric at 56, info at 64, flags at 72, ifindex at 76; 80 bytes.
    private static func addIPv6(_ route: GuestNetwork.Route) throws(InitFailure) {
        let fd = try ipv6Socket()
        defer { close(fd) }
        var message = [UInt8](repeating: 0, count: 80)
        if let destination = route.destination {
            message.replaceSubrange(0..<16, with: try ipv6(destination.address))
            message[52] = UInt8(min(destination.prefixLength, 128))
        }
        var flags: UInt32 = 0x1  // RTF_UP
        if let gateway = route.gateway {
            message.replaceSubrange(32..<48, with: try ipv6(gateway))
            flags |= 0x2  // RTF_GATEWAY
        }
        withUnsafeBytes(of: flags.littleEndian) { message.replaceSubrange(72..<76, with: $0) }
        withUnsafeBytes(of: Int32(bitPattern: if_nametoindex(route.interface)).littleEndian) { message.replaceSubrange(76..<80, with: $0) }
        let result = message.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return ioctl(fd, addIPv6Route, base)
        }
        if result != 0 && errno != EEXIST {
            let code = errno
            let what = (route.destination.map { "\($0.address)/\($0.prefixLength)" } ?? "default") + (route.gateway.map { " via \($0)" } ?? "")
            throw InitFailure("cannot add the IPv6 route to \(what) on \(route.interface): \(errnoText(code))")
        }
    }

    private static func ipv6(_ text: String) throws(InitFailure) -> [UInt8] {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { throw InitFailure("'\(text)' is not an IPv6 address") }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    private static func controlSocket() throws(InitFailure) -> Int32 {
        try check(socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket for network set-up")
    }

    private static func setUp(_ name: String, socket: Int32) throws(InitFailure) {
        var request = InterfaceRequest(name)
        try request.perform(getFlags, socket: socket, "read the flags of \(name)")
        request.setFlags(request.flags | Int16(IFF_UP))
        try request.perform(setFlags, socket: socket, "bring \(name) up")
    }

    private static func waitForInterface(mac: String, socket: Int32) throws(InitFailure) -> String {
        let deadline = monotonicMilliseconds() + Int64(interfaceWaitSeconds * 1000)
        while true {
            if let name = interfaceNames().first(where: { hardwareAddress(of: $0, socket: socket) == mac }) {
                return name
            }
            if monotonicMilliseconds() > deadline {
                throw InitFailure(
                    "no network interface with MAC \(mac) appeared within \(Int(interfaceWaitSeconds)) s: does the guest kernel have xen-netfront?")
            }
            usleep(20_000)
        }
    }

    private static func interfaceNames() -> [String] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var names: [String] = []
        var entry = list
        while entry.pointee.if_index != 0, let name = entry.pointee.if_name {
            names.append(String(cString: name))
            entry += 1
        }
        return names
    }

    private static func hardwareAddress(of name: String, socket: Int32) -> String? {
        var request = InterfaceRequest(name)
        guard (try? request.perform(getHardwareAddress, socket: socket, "")) != nil else { return nil }
        // sockaddr.sa_data holds the six bytes after the two-byte family.
        return request.bytes[18..<24].map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: ":")
    }

    private static func add(_ route: GuestNetwork.Route, socket: Int32) throws(InitFailure) {
        // struct rtentry on LP64: rt_dst at 8, rt_gateway at 24, rt_genmask at 40, rt_flags at
        // 56, rt_dev at 88; 120 bytes.
        var entry = [UInt8](repeating: 0, count: 120)
        let destination = route.destination ?? GuestNetwork.Address(address: "0.0.0.0", prefixLength: 0)
        entry.replaceSubrange(8..<24, with: sockaddrIPv4(try ipv4(destination.address)))
        var flags: UInt16 = 0x1  // RTF_UP
        if let gateway = route.gateway {
            entry.replaceSubrange(24..<40, with: sockaddrIPv4(try ipv4(gateway)))
            flags |= 0x2  // RTF_GATEWAY
        }
        entry.replaceSubrange(40..<56, with: sockaddrIPv4(netmask(destination.prefixLength)))
        if destination.prefixLength == 32 { flags |= 0x4 }  // RTF_HOST
        entry[56] = UInt8(flags & 0xFF)
        entry[57] = UInt8(flags >> 8)
        let what = "add the route to \(route.destination.map { "\($0.address)/\($0.prefixLength)" } ?? "default")"
            + (route.gateway.map { " via \($0)" } ?? "") + " on \(route.interface)"
        let result = route.interface.withCString { device in
            entry.withUnsafeMutableBytes { buffer -> Int32 in
                guard let base = buffer.baseAddress else { return -1 }
                buffer.storeBytes(of: UInt(bitPattern: device), toByteOffset: 88, as: UInt.self)
                return ioctl(socket, addRoute, base)
            }
        }
        if result != 0 && errno != EEXIST {
            let code = errno
            throw InitFailure("cannot \(what): \(errnoText(code))")
        }
    }

    private static func ipv4(_ text: String) throws(InitFailure) -> [UInt8] {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { throw InitFailure("'\(text)' is not an IPv4 address") }
        return withUnsafeBytes(of: address.s_addr) { Array($0) }
    }

    private static func netmask(_ prefixLength: Int) -> [UInt8] {
        let bits: UInt32 = prefixLength <= 0 ? 0 : UInt32.max << UInt32(32 - min(prefixLength, 32))
        return [UInt8(bits >> 24), UInt8((bits >> 16) & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8(bits & 0xFF)]
    }

    /// A sockaddr_in: family, port 0, the address in network order, zero padding.
    private static func sockaddrIPv4(_ address: [UInt8]) -> [UInt8] {
        let family = UInt16(AF_INET)
        return [UInt8(family & 0xFF), UInt8(family >> 8), 0, 0] + address + [UInt8](repeating: 0, count: 8)
    }

    /// struct ifreq: the name in 16 bytes, then a 24-byte union.
    private struct InterfaceRequest {
        var bytes = [UInt8](repeating: 0, count: 40)

        init(_ name: String) {
            for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[index] = byte }
        }

        var flags: Int16 { Int16(bitPattern: UInt16(bytes[16]) | UInt16(bytes[17]) << 8) }

        mutating func setFlags(_ value: Int16) {
            bytes[16] = UInt8(UInt16(bitPattern: value) & 0xFF)
            bytes[17] = UInt8(UInt16(bitPattern: value) >> 8)
        }

        mutating func setInt32(_ value: Int32) {
            withUnsafeBytes(of: value) { bytes.replaceSubrange(16..<20, with: $0) }
        }

        mutating func setName(_ name: String) {
            for index in 16..<32 { bytes[index] = 0 }
            for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[16 + index] = byte }
        }

        mutating func setAddress(_ address: [UInt8]) {
            bytes.replaceSubrange(16..<32, with: GuestNetworkSetup.sockaddrIPv4(address))
        }

        mutating func perform(_ request: UInt, socket: Int32, _ what: @autoclosure () -> String) throws(InitFailure) {
            let result = bytes.withUnsafeMutableBytes { buffer -> Int32 in
                guard let base = buffer.baseAddress else { return -1 }
                return ioctl(socket, request, base)
            }
            if result != 0 {
                let code = errno
                throw InitFailure("cannot \(what()): \(errnoText(code))")
            }
        }
    }
}
