import Archive
import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The two kernel file formats Xen's domain builder loads.
public enum KernelFormat: String, Codable, Sendable {
    /// A plain ELF (`vmlinux`, a unikernel binary): loaded as is.
    case elf
    /// An x86 boot image (`vmlinuz`): dom0 decompresses its payload on every domain creation.
    case bzImage
}

/// A kernel file checked to be something Xen can boot.
public struct KernelImage: Sendable, Equatable {
    public var path: String
    public var format: KernelFormat

    /// Checks that `path` is an ELF or a bzImage, throwing `.invalidKernel` naming it otherwise.
    public static func inspect(_ path: String) throws(RunxlError) -> KernelImage {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let err = errno
            throw RunxlError(
                .invalidKernel, "guest kernel \(path) cannot be used (set vm.kernel.path, the "
                    + "\(RunxlAnnotations.kernel) annotation or \"kernel\" in \(HostConfig.defaultPath))",
                cause: SystemCallError("stat", errno: err))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw RunxlError(.invalidKernel, "guest kernel \(path) is not a regular file")
        }
        let head = try readPrefix(path, count: 1024)
        if head.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { return KernelImage(path: path, format: .elf) }
        if BzImageHeader(head) != nil { return KernelImage(path: path, format: .bzImage) }
        throw RunxlError(.invalidKernel, "guest kernel \(path) is neither an ELF nor a bzImage")
    }

    static func readPrefix(_ path: String, count: Int) throws(RunxlError) -> [UInt8] {
        do {
            return try FileSystem.readPrefix(path, count: count)
        } catch {
            throw RunxlError(.invalidKernel, "cannot read guest kernel \(path)", cause: error)
        }
    }
}

/// The few fields of the x86 boot protocol header (Documentation/arch/x86/boot.rst) that locate
/// the compressed kernel inside a bzImage.
struct BzImageHeader {
    let protocolVersion: UInt16
    /// Offset in the file of the compressed payload, when the protocol says (2.08 and later).
    let payloadOffset: Int?
    let payloadLength: Int?

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 0x250, bytes[0x202...0x205].elementsEqual("HdrS".utf8) else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        protocolVersion = u16(0x206)
        if protocolVersion >= 0x208 {
            let setupSectors = bytes[0x1F1] == 0 ? 4 : Int(bytes[0x1F1])
            payloadOffset = (setupSectors + 1) * 512 + Int(u32(0x248))
            payloadLength = Int(u32(0x24C))
        } else {
            payloadOffset = nil
            payloadLength = nil
        }
    }
}

/// Finds the host's kernels.
public enum HostKernels {
    /// The newest `vmlinuz-*` in `bootDirectory`, by version order (6.1.0-10 before 6.1.0-9 is wrong).
    public static func newest(in bootDirectory: String = "/boot") throws(RunxlError) -> String {
        let names = (try? directoryNames(bootDirectory)) ?? []
        let kernels = names.filter { $0.hasPrefix("vmlinuz-") }
        guard let newest = kernels.max(by: { versionPrecedes($0, $1) }) else {
            throw RunxlError(
                .invalidKernel,
                "no guest kernel: \(bootDirectory) has no vmlinuz-*; install linux-image-amd64 or set "
                    + "\"kernel\" in \(HostConfig.defaultPath)")
        }
        return bootDirectory + "/" + newest
    }

    /// Compares names chunk by chunk, digits numerically, so `6.10` sorts after `6.9`.
    static func versionPrecedes(_ left: String, _ right: String) -> Bool {
        let a = chunks(left), b = chunks(right)
        for (x, y) in zip(a, b) where x != y {
            if let nx = Int(x), let ny = Int(y) { return nx < ny }
            return x < y
        }
        return a.count < b.count
    }

    private static func chunks(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var currentIsDigit = false
        for character in text {
            let isDigit = character.isASCII && character.isNumber
            if !current.isEmpty, isDigit != currentIsDigit {
                result.append(current)
                current = ""
            }
            current.append(character)
            currentIsDigit = isDigit
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}

/// What `KernelCache.bootable` hands the domain builder.
public struct BootableKernel: Sendable, Equatable {
    /// The file to boot: the extracted ELF when there is one, the original otherwise.
    public var path: String
    public var format: KernelFormat
    /// The kernel the user named.
    public var source: String
    /// True when `path` was already in the cache.
    public var cacheHit: Bool
}

/// Turns bzImages into plain ELF kernels once and keeps them.
///
/// Xen's PV builder boots a bzImage by decompressing its payload in dom0 on every `create`;
/// the extracted ELF skips that, which under emulation made PV creation 5x faster. The cache key
/// is the source file's identity (device, inode, size, mtime, ctime), so a kernel upgraded in
/// place is extracted again without reading 10 MB on every start to hash it.
public struct KernelCache: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The kernel to boot for `path`: validated, and for a bzImage with a compressed payload the
    /// extracted ELF (from the cache, or extracted now). A bzImage whose payload cannot be
    /// extracted is returned as is: Xen boots it, only more slowly.
    public func bootable(_ path: String) throws(RunxlError) -> BootableKernel {
        let image = try KernelImage.inspect(path)
        guard image.format == .bzImage else {
            return BootableKernel(path: path, format: .elf, source: path, cacheHit: false)
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RunxlError(.invalidKernel, "guest kernel \(path) disappeared")
        }
        var hasher = SHA256()
        hasher.update("kernel\0\(path)\0\(info.st_dev)\0\(info.st_ino)\0\(info.st_size)\0")
        hasher.update("\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\0\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)")
        let key = String(hasher.finalizeHex().prefix(32))
        let kernelDirectory = directory + "/kernels"
        let cached = kernelDirectory + "/vmlinux-" + key
        if (try? KernelImage.inspect(cached))?.format == .elf {
            return BootableKernel(path: cached, format: .elf, source: path, cacheHit: true)
        }
        try FileSystem.makeDirectories(kernelDirectory, mode: 0o755)
        guard let extracted = try Self.extractELF(from: path, to: cached) else {
            return BootableKernel(path: path, format: .bzImage, source: path, cacheHit: false)
        }
        return BootableKernel(path: extracted, format: .elf, source: path, cacheHit: false)
    }

    /// Extracts the ELF inside a bzImage to `destination` (atomically); nil when the payload is
    /// not something libarchive decompresses or does not yield a complete ELF.
    static func extractELF(from path: String, to destination: String) throws(RunxlError) -> String? {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path)
        } catch {
            throw RunxlError(.invalidKernel, "cannot read guest kernel \(path)", cause: error)
        }
        var candidates: [Range<Int>] = []
        if let header = BzImageHeader(bytes), let offset = header.payloadOffset, let length = header.payloadLength,
            length > 0, offset + length <= bytes.count
        {
            // The kernel build appends the decompressed size (4 bytes) to the payload; xz (and
            // libarchive, which then drops its last output block) read those as a broken second
            // stream, so the stream without them is tried first.
            if length > 4 { candidates.append(offset..<offset + length - 4) }
            candidates.append(offset..<offset + length)
        }
        // Older boot protocols do not say where the payload is: look for an xz stream.
        if let magic = firstIndex(of: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], in: bytes) {
            candidates.append(magic..<bytes.count)
        }
        let temporary = "\(destination).\(getpid())\(FileSystem.temporarySuffix)"
        defer { unlink(temporary) }
        for range in candidates {
            let result: DecompressionResult
            do {
                result = try bytes.withUnsafeBytes { raw throws(RunxlError) in
                    try RawDecompressor.decompress(UnsafeRawBufferPointer(rebasing: raw[range]), to: temporary)
                }
            } catch {
                continue
            }
            guard result.bytesWritten > 0, isCompleteELF(temporary, size: result.bytesWritten) else { continue }
            guard rename(temporary, destination) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot store the extracted kernel at \(destination)", cause: SystemCallError("rename", errno: err))
            }
            return destination
        }
        return nil
    }

    /// An ELF64 whose program segments and section table all lie inside the `size` bytes written:
    /// a decompression that stopped early (on trailing bytes) must not yield a truncated kernel.
    static func isCompleteELF(_ path: String, size: Int64) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        func read(_ count: Int, at offset: Int64) -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: count)
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return got == count ? buffer : nil
        }
        func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        func u64(_ b: [UInt8], _ at: Int) -> Int64 {
            var value: UInt64 = 0
            for i in (0..<8).reversed() { value = value << 8 | UInt64(b[at + i]) }
            return Int64(bitPattern: value)
        }
        // ELF magic, 64-bit class, little endian.
        guard let header = read(64, at: 0), header.starts(with: [0x7F, 0x45, 0x4C, 0x46, 2, 1]) else { return false }
        let programOffset = u64(header, 0x20), sectionOffset = u64(header, 0x28)
        let programEntrySize = u16(header, 0x36), programCount = u16(header, 0x38)
        let sectionEntrySize = u16(header, 0x3A), sectionCount = u16(header, 0x3C)
        var end = sectionOffset + Int64(sectionEntrySize * sectionCount)
        if programCount > 0 {
            guard programEntrySize >= 56,
                let table = read(programEntrySize * programCount, at: programOffset)
            else { return false }
            for index in 0..<programCount {
                let base = index * programEntrySize
                end = max(end, u64(table, base + 0x08) + u64(table, base + 0x20))  // p_offset + p_filesz
            }
        }
        return end <= size
    }

    private static func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard let first = pattern.first, bytes.count >= pattern.count else { return nil }
        var index = 0
        while index <= bytes.count - pattern.count {
            if bytes[index] == first, bytes[index..<index + pattern.count].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}

/// Sorted entry names of a directory.
func directoryNames(_ path: String) throws(RunxlError) -> [String] {
    guard let directory = opendir(path) else {
        let err = errno
        throw RunxlError(.io, "cannot list \(path)", cause: SystemCallError("opendir", errno: err))
    }
    defer { closedir(directory) }
    return sortedNames(directory)
}

/// The sorted names in an open directory; `descriptor` stays open and owned by the caller.
func directoryNames(descriptor: Int32) throws(RunxlError) -> [String] {
    // closedir closes the descriptor it was given: hand it a duplicate.
    let copy = dup(descriptor)
    guard copy >= 0 else {
        let err = errno
        throw RunxlError(.io, "cannot list a directory", cause: SystemCallError("dup", errno: err))
    }
    guard let directory = fdopendir(copy) else {
        let err = errno
        close(copy)
        throw RunxlError(.io, "cannot list a directory", cause: SystemCallError("fdopendir", errno: err))
    }
    defer { closedir(directory) }
    // The duplicate shares the file offset: start from the first entry whatever was read before.
    rewinddir(directory)
    return sortedNames(directory)
}

private func sortedNames(_ directory: OpaquePointer) -> [String] {
    var names: [String] = []
    while let record = readdir(directory) {
        let name = withUnsafeBytes(of: record.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
