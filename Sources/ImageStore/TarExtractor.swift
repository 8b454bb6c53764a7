import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Extracts the regular files of an uncompressed tar (an oci-archive or a docker-archive) into
/// a fresh directory, streaming: an archive of gigabytes needs no more memory than one buffer.
///
/// Only what image archives contain is kept: files and directories (symlinks are recorded, not
/// created, and resolved by `resolve`, so nothing on disk can point outside). Paths with `..`
/// or an absolute prefix are refused. This is not the layer unpacker: layers are blobs here,
/// copied as bytes, never unpacked.
struct TarExtractor {
    let archive: String
    let destination: String
    /// Symlinks by their normalized path → normalized target path (relative to the archive root).
    private(set) var links: [String: String] = [:]
    private(set) var files: Set<String> = []

    init(archive: String, destination: String) {
        self.archive = archive
        self.destination = destination
    }

    mutating func extract() throws(RunxlError) {
        let fd = open(archive, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot read \(archive)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        var reader = BlockReader(fd: fd, path: archive)
        var longName: String?
        var paxPath: String?
        var paxSize: Int64?
        var zeroBlocks = 0
        while true {
            guard let header = try reader.readBlock() else {
                if zeroBlocks > 0 { break }
                throw RunxlError(.invalidImage, "\(archive): the tar archive ends without its end marker (truncated?)")
            }
            if header.allSatisfy({ $0 == 0 }) {
                zeroBlocks += 1
                if zeroBlocks == 2 { break }
                continue
            }
            zeroBlocks = 0
            try Self.checkChecksum(header, archive: archive)
            let type = header[156]
            var size = try Self.number(header[124..<136], field: "size", archive: archive)
            if let paxSize { size = paxSize }
            var name = longName ?? paxPath ?? Self.headerName(header)
            longName = nil
            paxPath = nil
            paxSize = nil
            switch type {
            case UInt8(ascii: "L"):
                let bytes = try reader.readData(size)
                longName = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                continue
            case UInt8(ascii: "x"):
                let records = try Self.paxRecords(try reader.readData(size), archive: archive)
                paxPath = records["path"]
                if let text = records["size"] {
                    guard let value = Int64(text), value >= 0 else { throw RunxlError(.invalidImage, "\(archive): bad pax size '\(text)'") }
                    paxSize = value
                }
                continue
            case UInt8(ascii: "g"), UInt8(ascii: "K"):
                try reader.skip(size)
                continue
            default:
                break
            }
            guard let relative = try Self.normalize(name, archive: archive) else {
                try reader.skip(type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7") ? size : 0)
                continue
            }
            name = relative
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                try makeParents(of: relative)
                try reader.copy(size, to: destination + "/" + relative)
                files.insert(relative)
                links[relative] = nil
            case UInt8(ascii: "5"):
                try FileSystem.makeDirectories(destination + "/" + relative, mode: 0o700)
            case UInt8(ascii: "2"):
                let target = Self.headerField(header[157..<257])
                let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
                let joined = target.hasPrefix("/") ? target : (parent.isEmpty ? target : parent + "/" + target)
                if let normalized = try? Self.normalize(joined, archive: archive) { links[relative] = normalized }
            case UInt8(ascii: "1"):
                let target = Self.headerField(header[157..<257])
                if let normalized = try? Self.normalize(target, archive: archive) { links[relative] = normalized }
            default:
                // Devices, fifos: image archives have none; skip their (empty) data.
                try reader.skip(size)
            }
        }
    }

    /// The extracted file for an archive path, following recorded links; nil when absent.
    func resolve(_ path: String) -> String? {
        guard var current = try? Self.normalize(path, archive: archive) else { return nil }
        for _ in 0..<16 {
            if files.contains(current) { return destination + "/" + current }
            guard let next = links[current] else { return nil }
            current = next
        }
        return nil
    }

    private func makeParents(of relative: String) throws(RunxlError) {
        let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { try FileSystem.makeDirectories(destination + "/" + parent, mode: 0o700) }
    }

    /// `a/./b/` → `a/b`; nil for the root itself; `..` or an absolute path is an error.
    static func normalize(_ name: String, archive: String) throws(RunxlError) -> String? {
        var parts: [Substring] = []
        for component in name.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            guard component != ".." else {
                throw RunxlError(.invalidImage, "\(archive): entry '\(name)' points outside the archive")
            }
            parts.append(component)
        }
        if name.hasPrefix("/") && !parts.isEmpty {
            throw RunxlError(.invalidImage, "\(archive): entry '\(name)' is an absolute path")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    static func headerField(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// ustar splits long names into prefix (345..<500) and name (0..<100).
    static func headerName(_ header: [UInt8]) -> String {
        let name = headerField(header[0..<100])
        let magic = headerField(header[257..<263])
        if magic.hasPrefix("ustar") {
            let prefix = headerField(header[345..<500])
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    /// Octal, or base-256 when the top bit of the first byte is set (GNU, for sizes over 8 GB).
    static func number(_ field: ArraySlice<UInt8>, field name: String, archive: String) throws(RunxlError) -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7F)
            for byte in field.dropFirst() {
                guard value < (Int64.max >> 8) else { throw RunxlError(.invalidImage, "\(archive): tar \(name) field overflows") }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value < (Int64.max >> 3) else {
                throw RunxlError(.invalidImage, "\(archive): tar header \(name) field is not an octal number (not a tar archive?)")
            }
            seenDigit = true
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    static func checkChecksum(_ header: [UInt8], archive: String) throws(RunxlError) {
        let stored = try number(header[148..<156], field: "checksum", archive: archive)
        var sum: Int64 = 0
        for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 32 : Int64(byte) }
        guard stored == sum else {
            throw RunxlError(.invalidImage, "\(archive): a tar header has a wrong checksum (damaged, or not a tar archive)")
        }
    }

    /// `LEN key=value\n` records.
    static func paxRecords(_ bytes: [UInt8], archive: String) throws(RunxlError) -> [String: String] {
        var records: [String: String] = [:]
        var index = 0
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0, index + length <= bytes.count
            else {
                throw RunxlError(.invalidImage, "\(archive): a pax header is malformed")
            }
            let record = bytes[(space + 1)..<(index + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                records[String(decoding: record[..<equals], as: UTF8.self)] = String(decoding: record[(equals + 1)...], as: UTF8.self)
            }
            index += length
        }
        return records
    }
}

/// 512-byte blocks of a file descriptor, through a 1 MiB buffer.
private struct BlockReader {
    let fd: Int32
    let path: String
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0
    private var end = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Fills the buffer; false at end of file.
    private mutating func fill() throws(RunxlError) -> Bool {
        if start < end { return true }
        start = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                throw RunxlError(.io, "cannot read \(path)", cause: SystemCallError("read", errno: err))
            }
            end = count
            return count > 0
        }
    }

    /// Up to `count` bytes, handed to `body` in pieces.
    private mutating func consume(_ count: Int64, _ body: (UnsafeRawBufferPointer) throws(RunxlError) -> Void) throws(RunxlError) {
        var left = count
        while left > 0 {
            guard try fill() else { throw RunxlError(.invalidImage, "\(path): the tar archive is truncated") }
            let take = Int(min(Int64(end - start), left))
            let from = start
            var failure: RunxlError?
            buffer.withUnsafeBytes { all in
                do throws(RunxlError) {
                    try body(UnsafeRawBufferPointer(rebasing: all[from..<(from + take)]))
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            start += take
            left -= Int64(take)
        }
    }

    mutating func readBlock() throws(RunxlError) -> [UInt8]? {
        guard try fill() else { return nil }
        var block: [UInt8] = []
        block.reserveCapacity(512)
        try consume(512) { block.append(contentsOf: $0) }
        return block
    }

    static func padded(_ size: Int64) -> Int64 { (size + 511) / 512 * 512 }

    mutating func readData(_ size: Int64) throws(RunxlError) -> [UInt8] {
        guard size <= 1 << 20 else { throw RunxlError(.invalidImage, "\(path): a tar extended header is larger than 1 MiB") }
        var bytes: [UInt8] = []
        try consume(size) { bytes.append(contentsOf: $0) }
        try consume(Self.padded(size) - size) { _ in }
        return bytes
    }

    mutating func skip(_ size: Int64) throws(RunxlError) {
        try consume(Self.padded(size)) { _ in }
    }

    mutating func copy(_ size: Int64, to target: String) throws(RunxlError) {
        let out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create \(target)", cause: SystemCallError("open", errno: err))
        }
        defer { close(out) }
        try consume(size) { (chunk: UnsafeRawBufferPointer) throws(RunxlError) in
            try Descriptors.writeAll(out, chunk, path: target)
        }
        try consume(Self.padded(size) - size) { _ in }
        guard fsync(out) == 0 else {
            let err = errno
            throw RunxlError(.io, "cannot write \(target)", cause: SystemCallError("fsync", errno: err))
        }
    }
}
