import Foundation

/// The receiving end of `--console-socket`, as conmon and the containerd shim hold it. Written
/// apart from RunxlBase's `UnixSocket` on purpose: a client of runxl's own, as conmon is.
struct ConsoleSocketListener {
    let path: String
    let socketFD: Int32

    init(path: String) throws {
        self.path = path
        socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(socketFD, 4) == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    /// Accepts one connection and returns the descriptor it carried (SCM_RIGHTS), or -1.
    func receiveDescriptor() -> Int32 {
        let connection = accept(socketFD, nil, nil)
        guard connection >= 0 else { return -1 }
        defer { Foundation.close(connection) }
        var payload = [UInt8](repeating: 0, count: 256)
        var control = [UInt8](repeating: 0, count: 64)
        let received = payload.withUnsafeMutableBytes { payloadRaw in
            control.withUnsafeMutableBytes { controlRaw in
                var vector = iovec(iov_base: payloadRaw.baseAddress, iov_len: payloadRaw.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlRaw.baseAddress
                    header.msg_controllen = controlRaw.count
                    return recvmsg(connection, &header, 0)
                }
            }
        }
        guard received >= 0 else { return -1 }
        let headerSize = MemoryLayout<cmsghdr>.size
        let header = control.withUnsafeBytes { $0.load(as: cmsghdr.self) }
        guard header.cmsg_level == SOL_SOCKET, header.cmsg_type == Int32(SCM_RIGHTS) else { return -1 }
        return control.withUnsafeBytes { $0.load(fromByteOffset: headerSize, as: Int32.self) }
    }

    func close() {
        Foundation.close(socketFD)
        unlink(path)
    }
}
