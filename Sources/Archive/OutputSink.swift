internal import CArchive
import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where libarchive's (possibly compressed) output goes: a file, optionally through the legacy
/// LZ4 encoder. libarchive calls `write` through a C callback with this object as client data.
final class OutputSink {
    let path: String
    private var fd: Int32
    private var lz4: LZ4LegacyEncoder?
    private(set) var bytesWritten = 0
    /// The first failure; libarchive only sees "-1", so the real reason is kept here.
    private(set) var failure: RunxlError?

    init(path: String, legacyLZ4: Bool) throws(RunxlError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create \(path)", cause: SystemCallError("open", errno: err))
        }
        if legacyLZ4 {
            lz4 = LZ4LegacyEncoder()
            writeToFile(LZ4LegacyEncoder.magic)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Accepts `count` bytes of archive output; false once anything has failed.
    func accept(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        if lz4 != nil {
            var source = bytes
            while !source.isEmpty, let encoder = lz4 {
                let consumed = encoder.append(source)
                if encoder.isFull { encoder.flush { writeToFile($0) } }
                source = UnsafeRawBufferPointer(rebasing: source[consumed...])
            }
        } else {
            writeToFile(bytes)
        }
        return failure == nil
    }

    /// Flushes what is buffered, fsyncs and closes the file.
    func finish() throws(RunxlError) {
        if let encoder = lz4 {
            encoder.flush { writeToFile($0) }
            lz4 = nil
        }
        if failure == nil, fsync(fd) != 0 {
            failure = RunxlError(.io, "cannot write \(path)", cause: SystemCallError("fsync", errno: errno))
        }
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if let failure { throw failure }
    }

    /// Marks the sink failed for a reason found outside it (libarchive's own errors).
    func fail(_ error: RunxlError) {
        if failure == nil { failure = error }
    }

    private func writeToFile(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeToFile($0) }
    }

    private func writeToFile(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        do {
            try Descriptors.writeAll(fd, bytes, path: path)
        } catch {
            failure = error
            return
        }
        bytesWritten += bytes.count
    }
}

/// The legacy LZ4 container the kernel's `unlz4` reads: a magic number, then independent blocks
/// of at most 8 MiB of input, each prefixed by its compressed size (little endian).
final class LZ4LegacyEncoder {
    static let magic: [UInt8] = [0x02, 0x21, 0x4C, 0x18]
    /// The kernel decompresses each block into an 8 MiB buffer: no block may hold more.
    static let blockSize = 8 << 20

    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var filled = 0

    init() {
        input = .allocate(byteCount: Self.blockSize, alignment: 16)
        output = .allocate(byteCount: Int(rx_LZ4_compressBound(Int32(Self.blockSize))) + 4, alignment: 16)
    }

    var isFull: Bool { filled == Self.blockSize }

    /// Copies as much of `bytes` as fits in the current block; returns how much was taken.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = min(bytes.count, Self.blockSize - filled)
        if count > 0, let source = bytes.baseAddress, let target = input.baseAddress {
            (target + filled).copyMemory(from: source, byteCount: count)
            filled += count
        }
        return count
    }

    /// Compresses the buffered block and hands size prefix and data to `emit`.
    func flush(_ emit: (UnsafeRawBufferPointer) -> Void) {
        guard filled > 0, let source = input.baseAddress, let target = output.baseAddress else { return }
        let compressed = rx_LZ4_compress_default(
            source.assumingMemoryBound(to: CChar.self),
            (target + 4).assumingMemoryBound(to: CChar.self),
            Int32(filled), Int32(output.count - 4))
        // LZ4_compress_default only fails when the target is smaller than LZ4_compressBound.
        let size = UInt32(max(compressed, 0))
        output[0] = UInt8(size & 0xFF)
        output[1] = UInt8((size >> 8) & 0xFF)
        output[2] = UInt8((size >> 16) & 0xFF)
        output[3] = UInt8((size >> 24) & 0xFF)
        emit(UnsafeRawBufferPointer(rebasing: output[0..<(4 + Int(size))]))
        filled = 0
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }
}
