/// `runxl exec` over the console: each exec'd process is a numbered session, and its request,
/// input, output and end travel as frames on streams of their own, next to the container
/// process's. One channel, already open and already read by both sides: no second console or
/// vchan to set up per guest (a second PV console would need QEMU in dom0).
///
/// Every payload starts with the session number (u32, little-endian).
extension ConsoleStream {
    /// Host to guest: part of the session's `ProcessDescription` JSON, then one byte that is 1 on
    /// the last part (a description may be longer than a frame).
    public static let execStart = ConsoleStream(rawValue: 7)
    /// Host to guest: bytes for the session's stdin.
    public static let execInput = ConsoleStream(rawValue: 8)
    /// Host to guest: the session's stdin reached end-of-file.
    public static let execInputEnd = ConsoleStream(rawValue: 9)
    /// Guest to host: one stream byte (1 stdout, 2 stderr), then output.
    public static let execOutput = ConsoleStream(rawValue: 10)
    /// Guest to host: the session's `GuestExitStatus` text, its last frame.
    public static let execExit = ConsoleStream(rawValue: 11)
    /// Host to guest: the session's terminal has a new size, rows then columns (u16 each,
    /// little-endian); init sets it on the session's pty, and the kernel sends SIGWINCH.
    public static let execResize = ConsoleStream(rawValue: 12)
    /// Host to guest: deliver a signal (u32, little-endian) to the session's process. `runxl
    /// kill` of a pod's further container arrives this way (docs/pods.md), and a session whose
    /// client went away is ended with SIGKILL, as runc's exec'd process dies with its runc.
    public static let execSignal = ConsoleStream(rawValue: 13)
}

public enum ExecFrames {
    /// What fits after the session number and one more byte.
    public static let chunkSize = ConsoleFraming.maxPayload - 5

    public static func start(session: UInt32, description: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var rest = description[...]
        repeat {
            let chunk = rest.prefix(chunkSize)
            rest = rest.dropFirst(chunk.count)
            output += ConsoleFraming.encode(stream: .execStart, payload: header(session) + [rest.isEmpty ? 1 : 0] + chunk)
        } while !rest.isEmpty
        return output
    }

    public static func input(session: UInt32, _ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(chunkSize + 1)
            rest = rest.dropFirst(chunk.count)
            output += ConsoleFraming.encode(stream: .execInput, payload: header(session) + chunk)
        }
        return output
    }

    public static func inputEnd(session: UInt32) -> [UInt8] {
        ConsoleFraming.encode(stream: .execInputEnd, payload: header(session) + [0])
    }

    public static func output(session: UInt32, stream: ConsoleStream, _ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(chunkSize)
            rest = rest.dropFirst(chunk.count)
            output += ConsoleFraming.encode(stream: .execOutput, payload: header(session) + [stream.rawValue] + chunk)
        }
        return output
    }

    public static func resize(session: UInt32, rows: UInt16, columns: UInt16) -> [UInt8] {
        let size = [UInt8(rows & 0xFF), UInt8(rows >> 8), UInt8(columns & 0xFF), UInt8(columns >> 8)]
        return ConsoleFraming.encode(stream: .execResize, payload: header(session) + size)
    }

    /// Rows and columns from the rest of an `execResize` payload; nil when it is not four bytes.
    public static func size(_ rest: ArraySlice<UInt8>) -> (rows: UInt16, columns: UInt16)? {
        guard rest.count == 4 else { return nil }
        let bytes = Array(rest)
        return (UInt16(bytes[0]) | UInt16(bytes[1]) << 8, UInt16(bytes[2]) | UInt16(bytes[3]) << 8)
    }

    public static func signal(session: UInt32, _ number: Int32) -> [UInt8] {
        ConsoleFraming.encode(stream: .execSignal, payload: header(session) + header(UInt32(bitPattern: number)))
    }

    /// The signals Linux has, the only ones a session is sent.
    public static let signalNumbers: ClosedRange<Int32> = 1...64

    /// The signal number from the rest of an `execSignal` payload; nil unless it is four bytes
    /// naming one of `signalNumbers`.
    public static func signalNumber(_ rest: ArraySlice<UInt8>) -> Int32? {
        guard rest.count == 4 else { return nil }
        let bytes = Array(rest)
        let value = Int32(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        return signalNumbers.contains(value) ? value : nil
    }

    public static func exit(session: UInt32, _ status: GuestExitStatus) -> [UInt8] {
        ConsoleFraming.encode(stream: .execExit, payload: header(session) + Array(status.encoded.utf8))
    }

    /// The session number and the rest of a payload; nil when it is too short to hold one.
    public static func split(_ payload: [UInt8]) -> (session: UInt32, rest: ArraySlice<UInt8>)? {
        guard payload.count >= 4 else { return nil }
        let session = UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24
        return (session, payload[4...])
    }

    static func header(_ session: UInt32) -> [UInt8] {
        [UInt8(session & 0xFF), UInt8((session >> 8) & 0xFF), UInt8((session >> 16) & 0xFF), UInt8(session >> 24)]
    }
}
