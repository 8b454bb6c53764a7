internal import CArchive
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One tar entry's header, as handed out by `ArchiveEntryStream` before its data is read.
public struct ArchiveEntryHeader: Sendable, Equatable {
    /// The path exactly as stored: not necessarily UTF-8, not normalized, possibly hostile.
    public var path: [UInt8]
    /// nil for entry types runxl does not handle (libarchive reports them with other type bits).
    public var kind: ArchiveEntryKind?
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    public var permissions: UInt32
    public var uid: Int64
    public var gid: Int64
    /// The size recorded in the header; for sparse files the logical size.
    public var size: Int64
    public var modificationTime: Int64
    public var modificationNanoseconds: Int
    public var symlinkTarget: [UInt8]?
    /// Set for a hard link entry: the stored path of the file it links to.
    public var hardlinkTarget: [UInt8]?
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes from PAX records (SCHILY.xattr, LIBARCHIVE.xattr), in stored order.
    public var extendedAttributes: [ArchiveExtendedAttribute]
}

public struct ArchiveExtendedAttribute: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// Reads a tar stream (gzip, zstd or uncompressed, recognized by content) one entry at a time
/// without holding more than a few megabytes in memory, for image layers that are far larger
/// than what `ArchiveReader.entries` should load.
///
/// With `decompressOnSeparateThread`, a second thread inflates the stream while the caller
/// writes files: decompression and file creation each take about half of an unpack, and this
/// pipeline is what `tar -xzf` gets by running gzip as a separate process.
public final class ArchiveEntryStream {
    /// libarchive's name of the compression found: `gzip`, `zstd` or `none`.
    public let compression: String
    private let path: String
    private let archive: OpaquePointer
    private let decompressor: DecompressionThread?
    private var entry: OpaquePointer?
    /// Set once `uncompressedDigest()` has read the stream to its end: the tar reader's last
    /// block was handed back then, so it must not read again.
    private var drained = false

    /// Only tar formats and the gzip and zstd filters are enabled: an image layer is never
    /// anything else, and every other parser libarchive has would only add attack surface.
    ///
    /// `uncompressedDigester` hashes every byte the decompressor produces (the layer's diff_id,
    /// see `verifyUncompressedDigest`); it needs the decompression thread, which is then used
    /// whatever `decompressOnSeparateThread` says.
    public init(
        tarAt path: String, decompressOnSeparateThread: Bool = true, uncompressedDigester: (any StreamDigester)? = nil
    ) throws(RunxlError) {
        try ArchiveLibraries.load()
        self.path = path
        guard let archive = rx_archive_read_new() else {
            throw RunxlError(.internal, "libarchive could not allocate a reader")
        }
        rx_archive_read_support_format_tar(archive)
        if decompressOnSeparateThread || uncompressedDigester != nil {
            let decompressor: DecompressionThread
            do {
                decompressor = try DecompressionThread(path: path, digester: uncompressedDigester)
            } catch {
                rx_archive_read_free(archive)
                throw error
            }
            let client = Unmanaged.passUnretained(decompressor).toOpaque()
            guard rx_archive_read_open(archive, client, nil, decompressedBlockCallback, nil) == ARCHIVE_OK else {
                // Opening reads the first block already, so a stream broken early fails here.
                let failure = LibArchiveError(archive, status: ARCHIVE_FATAL)
                rx_archive_read_free(archive)
                decompressor.cancelAndWait()
                if let decompression = decompressor.failure {
                    throw RunxlError(.invalidImage, "cannot decompress layer \(path): \(decompression)")
                }
                throw RunxlError(.invalidImage, "cannot read layer \(path)", cause: failure)
            }
            self.compression = decompressor.compression
            self.decompressor = decompressor
        } else {
            rx_archive_read_support_filter_gzip(archive)
            rx_archive_read_support_filter_zstd(archive)
            guard rx_archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else {
                let failure = LibArchiveError(archive, status: ARCHIVE_FATAL)
                rx_archive_read_free(archive)
                throw RunxlError(.io, "cannot open layer \(path)", cause: failure)
            }
            self.compression = rx_archive_filter_name(archive, 0).map { String(cString: $0) } ?? "none"
            self.decompressor = nil
        }
        self.archive = archive
    }

    deinit {
        // The tar reader first: it may still be inside the decompressor's current block.
        rx_archive_read_free(archive)
        decompressor?.cancelAndWait()
    }

    /// The next entry's header, or nil at the end of the archive. Data of the previous entry that
    /// was not read is skipped.
    public func nextHeader() throws(RunxlError) -> ArchiveEntryHeader? {
        try refuseAfterDrain()
        let status = rx_archive_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF {
            // A stream that ends early reaches the tar reader as an end of input; only the
            // decompressor knows it was an error.
            try throwDecompressorFailure()
            return nil
        }
        guard status >= ARCHIVE_WARN, let entry else {
            try throwDecompressorFailure()
            throw RunxlError(.invalidImage, "cannot read layer \(path)", cause: LibArchiveError(archive, status: status))
        }
        let mode = UInt32(rx_archive_entry_mode(entry))
        return ArchiveEntryHeader(
            path: Self.bytes(rx_archive_entry_pathname(entry) ?? rx_archive_entry_pathname_utf8(entry)) ?? [],
            kind: ArchiveEntryKind(mode: mode),
            permissions: mode & 0o7777,
            uid: rx_archive_entry_uid(entry),
            gid: rx_archive_entry_gid(entry),
            size: rx_archive_entry_size(entry),
            modificationTime: Int64(rx_archive_entry_mtime(entry)),
            modificationNanoseconds: rx_archive_entry_mtime_nsec(entry),
            symlinkTarget: Self.bytes(rx_archive_entry_symlink(entry) ?? rx_archive_entry_symlink_utf8(entry)),
            hardlinkTarget: Self.bytes(rx_archive_entry_hardlink(entry) ?? rx_archive_entry_hardlink_utf8(entry)),
            deviceMajor: UInt32(truncatingIfNeeded: rx_archive_entry_rdevmajor(entry)),
            deviceMinor: UInt32(truncatingIfNeeded: rx_archive_entry_rdevminor(entry)),
            extendedAttributes: Self.extendedAttributes(entry))
    }

    /// Hands the current entry's data to `body` block by block, each with its offset in the file
    /// (blocks of a sparse file skip the holes). The bytes are valid only during the call.
    public func readData(
        _ body: (_ offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(RunxlError) -> Void
    ) throws(RunxlError) {
        try refuseAfterDrain()
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            let status = rx_archive_read_data_block(archive, &block, &size, &offset)
            if status == ARCHIVE_EOF { return }
            guard status >= ARCHIVE_WARN else {
                try throwDecompressorFailure()
                throw RunxlError(.invalidImage, "cannot read layer \(path)", cause: LibArchiveError(archive, status: status))
            }
            if size > 0, let block { try body(offset, UnsafeRawBufferPointer(start: block, count: size)) }
        }
    }

    /// The digest (`sha256:HEX`) of the whole uncompressed stream, for a stream opened with an
    /// `uncompressedDigester`. Reads whatever the tar reader left: the rest of an archive the
    /// caller stopped reading, and any bytes after the tar end-of-archive blocks, which belong
    /// to the diff_id too (a layer could otherwise carry data no check covers). The entries can
    /// no longer be read afterwards.
    public func uncompressedDigest() throws(RunxlError) -> String {
        guard !drained else { throw RunxlError(.internal, "layer \(path): its uncompressed digest was asked for twice") }
        guard let decompressor, decompressor.isDigesting else {
            throw RunxlError(.internal, "layer \(path) was opened without a digester: its uncompressed digest is unknown")
        }
        drained = true
        decompressor.drainToEnd()
        try throwDecompressorFailure()
        guard let digest = decompressor.finalizeDigest() else {
            throw RunxlError(.internal, "layer \(path): the decompressor kept no digest")
        }
        return digest
    }

    /// Reads the stream to its end (see `uncompressedDigest`) and compares its digest with
    /// `diffID`, the image config's `rootfs.diff_ids` entry for this layer. A compressed blob
    /// is checked against its descriptor when it enters the store, but that says nothing about
    /// what it inflates to: the diff_id is the image's claim about the tar, and the config's
    /// digest (hence the manifest's) covers it. The message does not name the layer: callers do.
    public func verifyUncompressedDigest(diffID: String) throws(RunxlError) {
        guard diffID.hasPrefix("sha256:") else {
            throw RunxlError(.invalidImage, "layer \(path): diff_id \(diffID) is not sha256, the only digest runxl checks layers with")
        }
        let actual = try uncompressedDigest()
        guard actual == diffID else {
            // Callers name the layer (a blob path says little to a user).
            throw RunxlError(
                .digestMismatch, "it decompresses to content with digest \(actual), but the image config's diff_id is \(diffID)")
        }
    }

    private func refuseAfterDrain() throws(RunxlError) {
        if drained { throw RunxlError(.internal, "layer \(path) was read after its uncompressed digest was taken") }
    }

    private func throwDecompressorFailure() throws(RunxlError) {
        if let failure = decompressor?.failure {
            throw RunxlError(.invalidImage, "cannot decompress layer \(path): \(failure)")
        }
    }

    private static func bytes(_ text: UnsafePointer<CChar>?) -> [UInt8]? {
        guard let text else { return nil }
        return Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
    }

    private static func extendedAttributes(_ entry: OpaquePointer) -> [ArchiveExtendedAttribute] {
        guard rx_archive_entry_xattr_reset(entry) > 0 else { return [] }
        var result: [ArchiveExtendedAttribute] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rx_archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            result.append(ArchiveExtendedAttribute(name: String(cString: name), value: bytes))
        }
        return result
    }
}

/// libarchive's read callback for the tar reader: the next block of decompressed bytes.
private let decompressedBlockCallback: @convention(c) (
    OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t = { _, client, block in
    guard let client, let block else { return -1 }
    return Unmanaged<DecompressionThread>.fromOpaque(client).takeUnretainedValue().nextBlock(block)
}

/// Inflates a layer on its own thread into a few large buffers the tar reader consumes in turn
/// (no copy: libarchive's read callback hands out the buffer itself).
///
/// The producer is a second libarchive reader in "raw" format, so gzip, zstd and uncompressed
/// input are told apart by content exactly as elsewhere.
private final class DecompressionThread: @unchecked Sendable {
    // Guarded by `lock`: the buffer queues, `finished`, `cancelled`, `producerFailure`,
    // `producerExited`. Everything else is set before the thread starts.
    private static let bufferCount = 4
    private static let bufferSize = 1 << 20

    let compression: String
    // Allocated once the reader is open: an init that throws before every stored property is
    // set never runs deinit, so anything allocated earlier would leak on a layer that fails to open.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private let buffers: [UnsafeMutableRawPointer]
    private var freeBuffers: [Int]
    private var filledBuffers: [(index: Int, count: Int)] = []
    private var consumerBuffer: Int?
    private var finished = false
    private var cancelled = false
    private var producerExited = false
    private var producerFailure: String?
    private let reader: OpaquePointer
    /// Fed by the producer only; read by the consumer after `drainToEnd` saw the producer exit.
    private var digester: (any StreamDigester)?

    init(path: String, digester: (any StreamDigester)?) throws(RunxlError) {
        guard let reader = rx_archive_read_new() else {
            throw RunxlError(.internal, "libarchive could not allocate a reader")
        }
        rx_archive_read_support_filter_gzip(reader)
        rx_archive_read_support_filter_zstd(reader)
        rx_archive_read_support_format_raw(reader)
        guard rx_archive_read_open_filename(reader, path, 1 << 20) == ARCHIVE_OK else {
            let failure = LibArchiveError(reader, status: ARCHIVE_FATAL)
            rx_archive_read_free(reader)
            throw RunxlError(.io, "cannot open layer \(path)", cause: failure)
        }
        var entry: OpaquePointer?
        let status = rx_archive_read_next_header(reader, &entry)
        guard status >= ARCHIVE_WARN else {
            let failure = LibArchiveError(reader, status: status)
            rx_archive_read_free(reader)
            throw RunxlError(.invalidImage, "cannot read layer \(path)", cause: failure)
        }
        self.reader = reader
        self.digester = digester
        self.compression = rx_archive_filter_name(reader, 0).map { String(cString: $0) } ?? "none"
        buffers = (0..<Self.bufferCount).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: Self.bufferSize, alignment: 4096)
        }
        freeBuffers = Array(0..<Self.bufferCount)
        lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
        do {
            try startDetachedThread { [self] in produce() }
        } catch {
            producerExited = true
            throw error
        }
    }

    deinit {
        rx_archive_read_free(reader)
        for buffer in buffers { buffer.deallocate() }
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        lock.deallocate()
        changed.deallocate()
    }

    /// Set when decompression stopped on an error (a truncated or corrupt stream).
    var failure: String? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return producerFailure
    }

    var isDigesting: Bool { digester != nil }

    /// The consumer side, instead of `nextBlock` once the tar reader is done: hands every
    /// filled buffer straight back until the producer has read the input to its end, so that
    /// the digester has seen all of it.
    func drainToEnd() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let previous = consumerBuffer {
            freeBuffers.append(previous)
            consumerBuffer = nil
        }
        while true {
            freeBuffers += filledBuffers.map(\.index)
            filledBuffers.removeAll()
            pthread_cond_broadcast(changed)
            if producerExited { break }
            pthread_cond_wait(changed, lock)
        }
    }

    /// The digest of everything produced, once: nil without a digester or when taken already.
    /// Only after `drainToEnd`.
    func finalizeDigest() -> String? {
        defer { digester = nil }
        return digester?.finalizeDigest()
    }

    /// Stops the producer and waits until it no longer touches the reader or the buffers.
    func cancelAndWait() {
        pthread_mutex_lock(lock)
        cancelled = true
        pthread_cond_broadcast(changed)
        while !producerExited { pthread_cond_wait(changed, lock) }
        pthread_mutex_unlock(lock)
    }

    /// The consumer side: returns the previous block to the producer and waits for the next.
    func nextBlock(_ block: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let previous = consumerBuffer {
            freeBuffers.append(previous)
            consumerBuffer = nil
            pthread_cond_broadcast(changed)
        }
        while filledBuffers.isEmpty && !finished { pthread_cond_wait(changed, lock) }
        guard !filledBuffers.isEmpty else { return producerFailure == nil ? 0 : -1 }
        let next = filledBuffers.removeFirst()
        consumerBuffer = next.index
        block.pointee = UnsafeRawPointer(buffers[next.index])
        return next.count
    }

    private func produce() {
        var failure: String?
        while true {
            pthread_mutex_lock(lock)
            while freeBuffers.isEmpty && !cancelled { pthread_cond_wait(changed, lock) }
            let index = cancelled ? nil : freeBuffers.removeLast()
            pthread_mutex_unlock(lock)
            guard let index else { break }
            let count = rx_archive_read_data(reader, buffers[index], Self.bufferSize)
            if count > 0 { digester?.update(UnsafeRawBufferPointer(start: buffers[index], count: count)) }
            pthread_mutex_lock(lock)
            if count > 0 {
                filledBuffers.append((index, count))
            } else {
                freeBuffers.append(index)
                if count < 0 { failure = LibArchiveError(reader, status: Int32(count)).message }
            }
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
            if count <= 0 { break }
        }
        pthread_mutex_lock(lock)
        producerFailure = failure
        finished = true
        producerExited = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
    }
}
