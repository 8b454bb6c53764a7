/// The streams multiplexed over the guest's console (hvc0).
///
/// A struct over the id byte rather than an enum, so that a host can decode frames from a newer
/// init and skip streams it does not know.
public struct ConsoleStream: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The container process's standard output.
    public static let stdout = ConsoleStream(rawValue: 1)
    /// The container process's standard error.
    public static let stderr = ConsoleStream(rawValue: 2)
    /// Init's own messages (why a mount or an exec failed): never mixed with the process's output.
    public static let diagnostics = ConsoleStream(rawValue: 3)
    /// The `GuestExitStatus` text, the last frame init writes: a second channel next to xenstore.
    public static let exit = ConsoleStream(rawValue: 4)
    /// Host to guest: bytes for the container process's standard input.
    public static let input = ConsoleStream(rawValue: 5)
    /// Host to guest: the host's standard input reached end-of-file; init closes the process's
    /// stdin. The payload (one byte) carries nothing: frames are never empty.
    public static let inputEnd = ConsoleStream(rawValue: 6)

    public var description: String {
        switch self {
        case .stdout: return "stdout"
        case .stderr: return "stderr"
        case .diagnostics: return "diagnostics"
        case .exit: return "exit"
        case .input: return "input"
        case .inputEnd: return "input-end"
        default: return "stream\(rawValue)"
        }
    }
}

/// The framing of the console byte stream.
///
/// Layout of one frame, integers little-endian:
/// `magic[4] = F5 72 78 6C` · `stream u8` · `length u16` · `payload[length]` · `crc32 u32`
/// where the CRC-32 covers stream, length and payload. `F5` never occurs in UTF-8 text, so kernel
/// messages printed before init starts (or despite `loglevel=0`) do not look like frames, and the
/// CRC rejects the rare chance match or a frame a kernel message was written into.
public enum ConsoleFraming {
    public static let magic: [UInt8] = [0xF5, 0x72, 0x78, 0x6C]
    /// The largest payload of one frame; longer writes are split. Small enough that a decoder
    /// fooled by a false marker waits for little data before it gives up on it.
    public static let maxPayload = 4096
    static let headerSize = 7
    static let trailerSize = 4
    public static let maxFrameSize = headerSize + maxPayload + trailerSize

    /// The frames carrying `payload` on `stream`: one per `maxPayload` bytes, none for an empty
    /// payload (a zero-length frame would carry nothing).
    public static func encode(stream: ConsoleStream, payload: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(payload.count + (payload.count / maxPayload + 1) * (headerSize + trailerSize))
        var rest = payload[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(maxPayload)
            rest = rest.dropFirst(chunk.count)
            appendFrame(stream: stream, chunk: chunk, to: &output)
        }
        return output
    }

    private static func appendFrame(stream: ConsoleStream, chunk: some Collection<UInt8>, to output: inout [UInt8]) {
        let length = UInt16(chunk.count)
        let header: [UInt8] = [stream.rawValue, UInt8(length & 0xFF), UInt8(length >> 8)]
        output.append(contentsOf: magic)
        output.append(contentsOf: header)
        output.append(contentsOf: chunk)
        let crc = CRC32.update(CRC32.checksum(header), chunk)
        output.append(contentsOf: littleEndianBytes(crc))
    }
}

/// What the console decoder found in the byte stream.
public enum ConsoleEvent: Sendable, Equatable {
    /// A whole, checksummed frame.
    case frame(ConsoleStream, [UInt8])
    /// Bytes outside any frame: kernel messages before init started, or a panic after it died.
    /// Worth logging for a guest that never reports an exit status.
    case unframed([UInt8])
}

/// The host side of the console framing: feed it chunks as they arrive, cut anywhere.
public struct ConsoleFrameDecoder: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    /// The events the bytes received so far complete. A possible frame that is still incomplete
    /// stays buffered (at most `ConsoleFraming.maxFrameSize` bytes).
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ConsoleEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ConsoleEvent] = []
        var start = 0
        var unframedStart = 0

        func flushUnframed(upTo end: Int) {
            if end > unframedStart {
                events.append(.unframed(Array(buffer[unframedStart..<end])))
            }
            unframedStart = end
        }

        scan: while start < buffer.count {
            guard let markerAt = findMarker(from: start) else {
                // Keep a tail that could be the beginning of a marker split across chunks.
                let keep = partialMarkerSuffixLength()
                start = max(start, buffer.count - keep)
                break scan
            }
            start = markerAt
            let header = markerAt + ConsoleFraming.magic.count
            guard buffer.count >= header + 3 else { break scan }
            let length = Int(buffer[header + 1]) | (Int(buffer[header + 2]) << 8)
            guard length > 0, length <= ConsoleFraming.maxPayload else {
                start = markerAt + 1
                continue scan
            }
            let payloadStart = header + 3
            let frameEnd = payloadStart + length + ConsoleFraming.trailerSize
            guard buffer.count >= frameEnd else {
                // Init writes frames one after the other, so a whole frame after this one
                // proves this one false (a chance marker, or a frame cut short): do not let it
                // hold back real output while waiting for bytes that will never come.
                if hasValidFrame(from: markerAt + 1) {
                    start = markerAt + 1
                    continue scan
                }
                break scan
            }
            guard isValidFrame(at: markerAt) else {
                start = markerAt + 1
                continue scan
            }
            flushUnframed(upTo: markerAt)
            events.append(.frame(ConsoleStream(rawValue: buffer[header]), Array(buffer[payloadStart..<(payloadStart + length)])))
            start = frameEnd
            unframedStart = frameEnd
        }
        flushUnframed(upTo: start)
        buffer.removeFirst(unframedStart)
        return events
    }

    /// Whatever is left once the console has closed: an unfinished frame is delivered as
    /// unframed bytes, since it will never complete.
    public mutating func finish() -> [ConsoleEvent] {
        defer { buffer.removeAll() }
        return buffer.isEmpty ? [] : [.unframed(buffer)]
    }

    /// Whether a complete frame with a matching checksum starts at `markerAt`.
    private func isValidFrame(at markerAt: Int) -> Bool {
        let header = markerAt + ConsoleFraming.magic.count
        guard buffer.count >= header + 3 else { return false }
        let length = Int(buffer[header + 1]) | (Int(buffer[header + 2]) << 8)
        guard length > 0, length <= ConsoleFraming.maxPayload else { return false }
        let payloadStart = header + 3
        guard buffer.count >= payloadStart + length + ConsoleFraming.trailerSize else { return false }
        let expected = readLittleEndianUInt32(buffer, at: payloadStart + length)
        let actual = CRC32.update(
            CRC32.checksum(buffer[header..<payloadStart]), buffer[payloadStart..<(payloadStart + length)])
        return expected == actual
    }

    private func hasValidFrame(from start: Int) -> Bool {
        var next = start
        while let markerAt = findMarker(from: next) {
            if isValidFrame(at: markerAt) { return true }
            next = markerAt + 1
        }
        return false
    }

    private func findMarker(from start: Int) -> Int? {
        let magic = ConsoleFraming.magic
        guard buffer.count >= start + magic.count else { return nil }
        var index = start
        while index + magic.count <= buffer.count {
            if buffer[index] == magic[0] && buffer[index + 1] == magic[1] && buffer[index + 2] == magic[2]
                && buffer[index + 3] == magic[3]
            {
                return index
            }
            index += 1
        }
        return nil
    }

    private func partialMarkerSuffixLength() -> Int {
        let magic = ConsoleFraming.magic
        var length = min(magic.count - 1, buffer.count)
        while length > 0 {
            if buffer[(buffer.count - length)...].elementsEqual(magic[..<length]) { return length }
            length -= 1
        }
        return 0
    }
}

func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
}

func readLittleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | (UInt32(bytes[offset + 1]) << 8) | (UInt32(bytes[offset + 2]) << 16)
        | (UInt32(bytes[offset + 3]) << 24)
}
