internal import CArchive
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `RawDecompressor.decompress` produced.
public struct DecompressionResult: Sendable, Equatable {
    /// Bytes written to the output file.
    public var bytesWritten: Int64
    /// libarchive's name for the compression found (`xz`, `gzip`, `zstd`, `lz4`, ...).
    public var compression: String
    /// Set when the stream ended in an error after `bytesWritten` bytes, typically trailing bytes
    /// after the compressed stream. The caller decides whether the output is complete.
    public var endError: String?
}

/// Decompresses a bare compressed stream (not an archive): the payload of a kernel image.
public enum RawDecompressor {
    /// Decompresses `input` (gzip, xz, lzma, bzip2, zstd or lz4, recognized by magic) into a new
    /// file at `outputPath`, stopping with an error past `outputLimit` bytes.
    public static func decompress(
        _ input: UnsafeRawBufferPointer, to outputPath: String, outputLimit: Int64 = 1 << 30
    ) throws(RunxlError) -> DecompressionResult {
        try ArchiveLibraries.load()
        guard let archive = rx_archive_read_new() else {
            throw RunxlError(.internal, "libarchive could not allocate a reader")
        }
        defer { rx_archive_read_free(archive) }
        rx_archive_read_support_filter_all(archive)
        rx_archive_read_support_format_raw(archive)
        guard let base = input.baseAddress,
            rx_archive_read_open_memory(archive, base, input.count) == ARCHIVE_OK
        else {
            throw RunxlError(.io, "cannot open the compressed stream", cause: LibArchiveError(archive, status: ARCHIVE_FATAL))
        }
        var entry: OpaquePointer?
        let headerStatus = rx_archive_read_next_header(archive, &entry)
        guard headerStatus >= ARCHIVE_WARN else {
            throw RunxlError(.io, "cannot read the compressed stream", cause: LibArchiveError(archive, status: headerStatus))
        }
        // Filter 0 is the outermost one read first; with no compression recognized it is "none".
        let compression = rx_archive_filter_name(archive, 0).map { String(cString: $0) } ?? "none"
        guard rx_archive_filter_code(archive, 0) != ARCHIVE_FILTER_NONE else {
            throw RunxlError(.io, "the data is not in a compression format libarchive recognizes")
        }

        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create \(outputPath)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        var endError: String?
        while true {
            let count = rx_archive_read_data(archive, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count < 0 {
                endError = LibArchiveError(archive, status: Int32(count)).message
                break
            }
            total += Int64(count)
            guard total <= outputLimit else {
                throw RunxlError(.io, "decompressed data exceeds \(outputLimit) bytes; refusing to write more to \(outputPath)")
            }
            try Descriptors.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), path: outputPath)
        }
        if fsync(fd) != 0 {
            let err = errno
            throw RunxlError(.io, "cannot write \(outputPath)", cause: SystemCallError("fsync", errno: err))
        }
        return DecompressionResult(bytesWritten: total, compression: compression, endError: endError)
    }
}
