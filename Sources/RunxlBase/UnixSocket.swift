#if canImport(Glibc)
import Glibc
#endif

/// AF_UNIX stream sockets with descriptors passed alongside (SCM_RIGHTS): the console socket
/// (`--console-socket`, the client's and runxl's own for `run`) and the exec channel to the
/// supervisor. Errors name the call and the path; callers say what the socket was for.
public enum UnixSocket {
    static func address(_ path: String) throws(RunxlError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw RunxlError(.usage, "the socket path \(path) is too long for an AF_UNIX address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    public static func connect(_ socketFD: Int32, to path: String) throws(RunxlError) {
        try withAddress(path, "connect") { Glibc.connect(socketFD, $0, $1) }
    }

    /// Runs `call` (connect or bind) on `path` as a sockaddr_un; a failure names the call.
    private static func withAddress(
        _ path: String, _ name: String, _ call: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws(RunxlError) {
        var address = try address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw failure(name, path) }
    }

    /// A stream socket bound to `path` (replacing a stale one), listening, close-on-exec; only
    /// its owner may connect (mode 0600).
    public static func listening(at path: String, backlog: Int32) throws(RunxlError) -> Int32 {
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw failure("socket", path) }
        do {
            try bind(listener, to: path)
        } catch {
            close(listener)
            throw error
        }
        chmod(path, 0o600)
        guard Glibc.listen(listener, backlog) == 0 else {
            let listenFailure = failure("listen", path)
            close(listener)
            unlink(path)
            throw listenFailure
        }
        return listener
    }

    public static func bind(_ socketFD: Int32, to path: String) throws(RunxlError) {
        try withAddress(path, "bind") { Glibc.bind(socketFD, $0, $1) }
    }

    /// One sendmsg carrying `payload` and `descriptors` (SCM_RIGHTS). The cmsg layout is built by
    /// hand (CMSG_* are macros Swift cannot call): a `cmsghdr`, then the ints, padded to size_t.
    public static func send(_ payload: [UInt8], descriptors: [Int32], over socketFD: Int32) throws(RunxlError) {
        let headerSize = MemoryLayout<cmsghdr>.size
        let alignment = MemoryLayout<Int>.size
        let dataSize = MemoryLayout<Int32>.size * descriptors.count
        let space = headerSize + ((dataSize + alignment - 1) / alignment) * alignment
        var control = [UInt8](repeating: 0, count: descriptors.isEmpty ? 0 : space)
        if !descriptors.isEmpty {
            control.withUnsafeMutableBytes { raw in
                var header = cmsghdr()
                header.cmsg_len = headerSize + dataSize
                header.cmsg_level = SOL_SOCKET
                header.cmsg_type = Int32(SCM_RIGHTS)
                raw.storeBytes(of: header, as: cmsghdr.self)
                for (index, descriptor) in descriptors.enumerated() {
                    raw.storeBytes(of: descriptor, toByteOffset: headerSize + index * MemoryLayout<Int32>.size, as: Int32.self)
                }
            }
        }
        var message = payload.isEmpty ? [0] : payload
        var offset = 0
        while offset < message.count {
            let sent = message.withUnsafeMutableBytes { payloadRaw in
                control.withUnsafeMutableBytes { controlRaw in
                    var vector = iovec(iov_base: payloadRaw.baseAddress.map { $0 + offset }, iov_len: payloadRaw.count - offset)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        // The descriptors travel with the first bytes only.
                        header.msg_control = offset == 0 ? controlRaw.baseAddress : nil
                        header.msg_controllen = offset == 0 ? controlRaw.count : 0
                        return sendmsg(socketFD, &header, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else {
                let code = errno
                throw RunxlError(.io, "cannot send over a unix socket", cause: SystemCallError("sendmsg", errno: code))
            }
            offset += sent
        }
    }

    /// The receiving side of `send` for a length-prefixed request: its body and the descriptors
    /// that came with it; nil when malformed or too long.
    public static func receiveRequest(_ socketFD: Int32, maxLength: Int) -> ([UInt8], [Int32])? {
        var received: [UInt8] = []
        var descriptors: [Int32] = []
        while true {
            if received.count >= 4 {
                let length = Int(received[0]) | Int(received[1]) << 8 | Int(received[2]) << 16 | Int(received[3]) << 24
                if length > maxLength { break }
                if received.count >= 4 + length { return (Array(received[4..<(4 + length)]), descriptors) }
            }
            let (bytes, more) = receive(socketFD, maxBytes: 65536)
            descriptors += more
            if bytes.isEmpty { break }
            received += bytes
        }
        for descriptor in descriptors { close(descriptor) }
        return nil
    }

    /// One recvmsg: the bytes (empty at the end of the stream or on an error) and the
    /// descriptors that came with them (SCM_RIGHTS, close-on-exec), which the caller owns.
    public static func receive(_ socketFD: Int32, maxBytes: Int) -> ([UInt8], [Int32]) {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        var control = [UInt8](repeating: 0, count: 256)
        var descriptors: [Int32] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { bufferRaw in
                control.withUnsafeMutableBytes { controlRaw in
                    var vector = iovec(iov_base: bufferRaw.baseAddress, iov_len: bufferRaw.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlRaw.baseAddress
                        header.msg_controllen = controlRaw.count
                        let result = recvmsg(socketFD, &header, Int32(MSG_CMSG_CLOEXEC))
                        if result >= 0 && header.msg_controllen >= MemoryLayout<cmsghdr>.size {
                            let cmsg = controlRaw.load(as: cmsghdr.self)
                            if cmsg.cmsg_level == SOL_SOCKET && cmsg.cmsg_type == Int32(SCM_RIGHTS) {
                                let headerSize = MemoryLayout<cmsghdr>.size
                                let count = (Int(cmsg.cmsg_len) - headerSize) / MemoryLayout<Int32>.size
                                for index in 0..<max(count, 0) {
                                    descriptors.append(controlRaw.load(fromByteOffset: headerSize + index * 4, as: Int32.self))
                                }
                            }
                        }
                        return result
                    }
                }
            }
            if count < 0 && errno == EINTR { continue }
            return (count > 0 ? Array(buffer[0..<count]) : [], descriptors)
        }
    }

    static func failure(_ call: String, _ path: String) -> RunxlError {
        let code = errno
        return RunxlError(.io, "unix socket \(path): \(call) failed", cause: SystemCallError(call, errno: code))
    }
}
