/// The xenstore wire protocol (`xen/io/xs_wire.h`), spoken by the guest over /dev/xen/xenbus and
/// by anything that talks to xenstored's socket. A header of four little-endian u32 (type,
/// request id, transaction id, payload length) and a payload of at most 4096 bytes.
public struct XenstoreMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let control = Self(rawValue: 0)
    public static let directory = Self(rawValue: 1)
    public static let read = Self(rawValue: 2)
    public static let getPermissions = Self(rawValue: 3)
    public static let watch = Self(rawValue: 4)
    public static let unwatch = Self(rawValue: 5)
    public static let transactionStart = Self(rawValue: 6)
    public static let transactionEnd = Self(rawValue: 7)
    public static let introduce = Self(rawValue: 8)
    public static let release = Self(rawValue: 9)
    public static let getDomainPath = Self(rawValue: 10)
    public static let write = Self(rawValue: 11)
    public static let mkdir = Self(rawValue: 12)
    public static let rm = Self(rawValue: 13)
    public static let setPermissions = Self(rawValue: 14)
    public static let watchEvent = Self(rawValue: 15)
    public static let error = Self(rawValue: 16)
    public static let isDomainIntroduced = Self(rawValue: 17)
    public static let resume = Self(rawValue: 18)
    public static let setTarget = Self(rawValue: 19)
    public static let resetWatches = Self(rawValue: 21)
    public static let directoryPart = Self(rawValue: 22)

    public var description: String {
        let names: [UInt32: String] = [
            0: "CONTROL", 1: "DIRECTORY", 2: "READ", 3: "GET_PERMS", 4: "WATCH", 5: "UNWATCH",
            6: "TRANSACTION_START", 7: "TRANSACTION_END", 8: "INTRODUCE", 9: "RELEASE",
            10: "GET_DOMAIN_PATH", 11: "WRITE", 12: "MKDIR", 13: "RM", 14: "SET_PERMS",
            15: "WATCH_EVENT", 16: "ERROR", 17: "IS_DOMAIN_INTRODUCED", 18: "RESUME", 19: "SET_TARGET",
            21: "RESET_WATCHES", 22: "DIRECTORY_PART",
        ]
        return names[rawValue] ?? "type\(rawValue)"
    }
}

/// An error reply: xenstored sends the errno's name ("ENOENT") as text.
public struct XenstoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name as sent, e.g. `ENOENT`.
    public let name: String
    /// What the request was, for the message.
    public let context: String

    public init(name: String, context: String) {
        self.name = name
        self.context = context
    }

    /// The error names xs_wire.h lists, in its order; xenstored sends no others.
    public static let knownNames = [
        "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO", "ENOTEMPTY",
        "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
    ]

    /// The Linux errno value for the name, or EIO (5) for a name xs_wire.h does not list.
    public var linuxErrno: Int32 {
        let values: [String: Int32] = [
            "EINVAL": 22, "EACCES": 13, "EEXIST": 17, "EISDIR": 21, "ENOENT": 2, "ENOMEM": 12,
            "ENOSPC": 28, "EIO": 5, "ENOTEMPTY": 39, "ENOSYS": 38, "EROFS": 30, "EBUSY": 16,
            "EAGAIN": 11, "EISCONN": 106, "E2BIG": 7, "EPERM": 1,
        ]
        return values[name] ?? 5
    }

    public var description: String { "xenstore \(context): \(name)" }
}

public struct XenstoreMessage: Sendable, Equatable {
    public static let headerSize = 16
    /// XENSTORE_PAYLOAD_MAX: xenstored drops a connection that sends more.
    public static let maxPayload = 4096

    public var type: XenstoreMessageType
    /// Echoed by the daemon in its reply; watch events carry 0.
    public var requestID: UInt32
    /// 0 outside a transaction.
    public var transactionID: UInt32
    public var payload: [UInt8]

    public init(type: XenstoreMessageType, requestID: UInt32 = 0, transactionID: UInt32 = 0, payload: [UInt8] = []) {
        self.type = type
        self.requestID = requestID
        self.transactionID = transactionID
        self.payload = payload
    }

    /// Header and payload, ready for one write(2) (the xenbus device wants a whole message per write).
    public func encoded() throws(GuestProtocolError) -> [UInt8] {
        guard payload.count <= Self.maxPayload else {
            throw GuestProtocolError("xenstore \(type) payload of \(payload.count) bytes exceeds \(Self.maxPayload)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize + payload.count)
        bytes.append(contentsOf: littleEndianBytes(type.rawValue))
        bytes.append(contentsOf: littleEndianBytes(requestID))
        bytes.append(contentsOf: littleEndianBytes(transactionID))
        bytes.append(contentsOf: littleEndianBytes(UInt32(payload.count)))
        bytes.append(contentsOf: payload)
        return bytes
    }

    // MARK: Requests

    private static func nulTerminated(_ strings: String...) -> [UInt8] {
        var bytes: [UInt8] = []
        for string in strings {
            bytes.append(contentsOf: string.utf8)
            bytes.append(0)
        }
        return bytes
    }

    public static func read(_ path: String, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .read, requestID: requestID, transactionID: transactionID, payload: nulTerminated(path))
    }

    /// The value is not NUL-terminated: its length is the rest of the payload.
    public static func write(_ path: String, value: some Sequence<UInt8>, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .write, requestID: requestID, transactionID: transactionID, payload: nulTerminated(path) + Array(value))
    }

    public static func write(_ path: String, string: String, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        write(path, value: string.utf8, requestID: requestID, transactionID: transactionID)
    }

    public static func watch(_ path: String, token: String, requestID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .watch, requestID: requestID, payload: nulTerminated(path, token))
    }

    public static func unwatch(_ path: String, token: String, requestID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .unwatch, requestID: requestID, payload: nulTerminated(path, token))
    }

    public static func directory(_ path: String, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .directory, requestID: requestID, transactionID: transactionID, payload: nulTerminated(path))
    }

    public static func mkdir(_ path: String, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .mkdir, requestID: requestID, transactionID: transactionID, payload: nulTerminated(path))
    }

    public static func remove(_ path: String, requestID: UInt32 = 0, transactionID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .rm, requestID: requestID, transactionID: transactionID, payload: nulTerminated(path))
    }

    public static func getDomainPath(domainID: UInt32, requestID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .getDomainPath, requestID: requestID, payload: nulTerminated(String(domainID)))
    }

    public static func transactionStart(requestID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .transactionStart, requestID: requestID, payload: nulTerminated(""))
    }

    /// `commit: false` aborts the transaction.
    public static func transactionEnd(transactionID: UInt32, commit: Bool, requestID: UInt32 = 0) -> XenstoreMessage {
        XenstoreMessage(type: .transactionEnd, requestID: requestID, transactionID: transactionID, payload: nulTerminated(commit ? "T" : "F"))
    }

    // MARK: Replies

    /// The payload's NUL-separated strings (a DIRECTORY reply's children, a watch event's path and
    /// token, an ERROR's name). A final NUL does not make an empty last element.
    public var strings: [String] {
        var body = payload[...]
        if body.last == 0 { body = body.dropLast() }
        if body.isEmpty { return [] }
        return body.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The error this reply carries, if it is an ERROR message.
    public func error(context: String) -> XenstoreError? {
        guard type == .error else { return nil }
        return XenstoreError(name: strings.first ?? "", context: context)
    }

    /// A reply's value: throws the xenstore error if the daemon refused the request.
    public func value(context: String) throws(XenstoreError) -> [UInt8] {
        if let error = error(context: context) { throw error }
        return payload
    }

    /// The path and token of a WATCH_EVENT, nil for any other message or a malformed event.
    public var watchEvent: (path: String, token: String)? {
        guard type == .watchEvent else { return nil }
        let parts = strings
        guard parts.count >= 2 else { return nil }
        return (parts[0], parts[1])
    }
}

/// Cuts a byte stream from the xenbus device or xenstored's socket into messages.
public struct XenstoreMessageDecoder: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    /// The messages the bytes received so far complete. Throws when a header announces more than
    /// the protocol's maximum payload: the stream cannot be resynchronized after that.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(GuestProtocolError) -> [XenstoreMessage] {
        buffer.append(contentsOf: bytes)
        var messages: [XenstoreMessage] = []
        var start = 0
        while buffer.count - start >= XenstoreMessage.headerSize {
            let length = Int(readLittleEndianUInt32(buffer, at: start + 12))
            guard length <= XenstoreMessage.maxPayload else {
                throw GuestProtocolError("xenstore message announces a payload of \(length) bytes, more than \(XenstoreMessage.maxPayload)")
            }
            let end = start + XenstoreMessage.headerSize + length
            guard buffer.count >= end else { break }
            messages.append(
                XenstoreMessage(
                    type: XenstoreMessageType(rawValue: readLittleEndianUInt32(buffer, at: start)),
                    requestID: readLittleEndianUInt32(buffer, at: start + 4),
                    transactionID: readLittleEndianUInt32(buffer, at: start + 8),
                    payload: Array(buffer[(start + XenstoreMessage.headerSize)..<end])))
            start = end
        }
        buffer.removeFirst(start)
        return messages
    }

    /// Bytes of an incomplete message still waiting for the rest.
    public var pendingByteCount: Int { buffer.count }
}
