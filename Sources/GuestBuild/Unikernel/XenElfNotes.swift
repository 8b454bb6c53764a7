public import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// What the Xen ELF notes of a kernel say about how Xen can boot it (xen/include/public/elfnote.h;
/// Xen's libelf reads the same notes in `elf_xen_parse`).
///
/// PV: Xen's PV domain builder takes an ELF with notes (or the legacy `__xen_guest` section)
/// that name `xen-3.0` as the interface version. PVH: the `PHYS32_ENTRY` note gives the 32-bit
/// entry point; without it libxl cannot start the kernel as PVH.
public struct XenElfNotes: Sendable, Equatable {
    public enum ElfClass: Int, Sendable, Equatable {
        case elf32 = 32
        case elf64 = 64
    }

    public var elfClass: ElfClass
    public var guestOS: String?
    public var xenVersion: String?
    public var loader: String?
    public var entry: UInt64?
    public var hypercallPage: UInt64?
    public var phys32Entry: UInt64?
    /// The legacy `__xen_guest` section's text (`GUEST_OS=...,XEN_VER=xen-3.0,...`).
    public var legacyGuestInfo: String?

    /// The guest types Xen can boot this kernel as; empty when it is not Xen-bootable.
    public var bootableTypes: Set<GuestType> {
        var types: Set<GuestType> = []
        let legacyVersion = legacyGuestInfo?.split(separator: ",").first { $0.hasPrefix("XEN_VER=") }
            .map { String($0.dropFirst("XEN_VER=".count)) }
        if let version = xenVersion ?? legacyVersion, version.hasPrefix("xen-3.0") { types.insert(.pv) }
        if phys32Entry != nil { types.insert(.pvh) }
        return types
    }

    // Note types, from xen/include/public/elfnote.h.
    static let noteEntry: UInt32 = 1
    static let noteHypercallPage: UInt32 = 2
    static let noteXenVersion: UInt32 = 5
    static let noteGuestOS: UInt32 = 6
    static let noteLoader: UInt32 = 8
    static let notePhys32Entry: UInt32 = 18

    /// Kernels larger than this are refused before being read whole.
    public static let maximumFileBytes = 512 << 20

    /// Reads the notes of the ELF at `path` (a host path); `.invalidKernel` naming `description`
    /// (how the user knows the file) when it is not an x86 ELF.
    public static func read(path: String, description: String) throws(RunxlError) -> XenElfNotes {
        guard let size = regularFileSize(path) else {
            throw RunxlError(.invalidKernel, "\(description) is not a regular file")
        }
        guard size <= Int64(maximumFileBytes) else {
            throw RunxlError(.invalidKernel, "\(description) is \(size >> 20) MiB: larger than any unikernel runxl boots")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path)
        } catch {
            throw RunxlError(.invalidKernel, "cannot read \(description)", cause: error)
        }
        return try parse(bytes, description: description)
    }

    /// The same for bytes in memory (the tests feed it hand-made ELFs).
    public static func parse(_ bytes: [UInt8], description: String) throws(RunxlError) -> XenElfNotes {
        var reader = ElfReader(bytes: bytes, description: description)
        return try reader.notes()
    }
}

/// Bounds-checked little-endian reads over an ELF image: every offset and size in the file is
/// checked before use, so a truncated or hostile file is an error, never a trap.
private struct ElfReader {
    let bytes: [UInt8]
    let description: String
    var is64 = true

    init(bytes: [UInt8], description: String) {
        self.bytes = bytes
        self.description = description
    }

    func fail(_ problem: String) -> RunxlError {
        RunxlError(.invalidKernel, "\(description) is not a Xen-bootable ELF: \(problem)")
    }

    func integer(at offset: Int, size: Int) throws(RunxlError) -> UInt64 {
        guard offset >= 0, size <= 8, offset <= bytes.count - size else { throw fail("truncated at offset \(offset)") }
        var value: UInt64 = 0
        for index in (0..<size).reversed() { value = value << 8 | UInt64(bytes[offset + index]) }
        return value
    }

    func int(at offset: Int, size: Int) throws(RunxlError) -> Int {
        let value = try integer(at: offset, size: size)
        guard value <= UInt64(Int32.max) else { throw fail("offset or size \(value) out of range") }
        return Int(value)
    }

    /// A word of the ELF's class: 4 bytes for ELF32, 8 for ELF64.
    func word(at offset: Int) throws(RunxlError) -> Int { try int(at: offset, size: is64 ? 8 : 4) }

    mutating func notes() throws(RunxlError) -> XenElfNotes {
        guard bytes.count >= 52, bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else {
            throw fail("no ELF header (a unikernel must be a plain ELF, not a compressed or bzImage file)")
        }
        guard bytes[5] == 1 else { throw fail("big-endian ELF") }
        let elfClass: XenElfNotes.ElfClass
        switch bytes[4] {
        case 1: elfClass = .elf32
        case 2: elfClass = .elf64
        default: throw fail("unknown ELF class \(bytes[4])")
        }
        is64 = elfClass == .elf64
        let machine = try integer(at: 18, size: 2)
        // EM_386 = 3, EM_X86_64 = 62: Xen on x86 boots nothing else.
        guard machine == 62 || machine == 3 else { throw fail("built for machine \(machine), not x86") }

        let programOffset = try word(at: is64 ? 0x20 : 0x1C)
        let sectionOffset = try word(at: is64 ? 0x28 : 0x20)
        let programEntrySize = try int(at: is64 ? 0x36 : 0x2A, size: 2)
        let programCount = try int(at: is64 ? 0x38 : 0x2C, size: 2)
        let sectionEntrySize = try int(at: is64 ? 0x3A : 0x2E, size: 2)
        let sectionCount = try int(at: is64 ? 0x3C : 0x30, size: 2)
        let sectionNamesIndex = try int(at: is64 ? 0x3E : 0x32, size: 2)

        var result = XenElfNotes(elfClass: elfClass)
        var foundNotes = false
        // PT_NOTE segments first (what libelf reads), then SHT_NOTE sections for an ELF whose
        // notes were not put in a segment.
        if programCount > 0 {
            guard programEntrySize >= (is64 ? 56 : 32) else { throw fail("program header entries of \(programEntrySize) bytes") }
            for index in 0..<programCount {
                let base = programOffset + index * programEntrySize
                guard try integer(at: base, size: 4) == 4 else { continue }  // PT_NOTE
                let offset = try word(at: base + (is64 ? 0x08 : 0x04))
                let size = try word(at: base + (is64 ? 0x20 : 0x10))
                if try readNotes(offset: offset, size: size, into: &result) { foundNotes = true }
            }
        }
        if sectionCount > 0, sectionEntrySize >= (is64 ? 64 : 40) {
            let namesBase = sectionOffset + sectionNamesIndex * sectionEntrySize
            let namesOffset = sectionNamesIndex < sectionCount ? try word(at: namesBase + (is64 ? 0x18 : 0x10)) : -1
            for index in 0..<sectionCount {
                let base = sectionOffset + index * sectionEntrySize
                let type = try integer(at: base + 4, size: 4)
                let offset = try word(at: base + (is64 ? 0x18 : 0x10))
                let size = try word(at: base + (is64 ? 0x20 : 0x14))
                if type == 7, !foundNotes {  // SHT_NOTE
                    _ = try readNotes(offset: offset, size: size, into: &result)
                }
                if namesOffset >= 0, type == 1,  // SHT_PROGBITS
                    let name = cString(at: namesOffset + (try int(at: base, size: 4))), name == "__xen_guest"
                {
                    result.legacyGuestInfo = try text(offset: offset, size: size)
                }
            }
        }
        return result
    }

    /// Reads the notes in one note area; true when it held at least one Xen note.
    func readNotes(offset: Int, size: Int, into result: inout XenElfNotes) throws(RunxlError) -> Bool {
        guard size > 0 else { return false }
        guard offset <= bytes.count, size <= bytes.count - offset else { throw fail("note area past the end of the file") }
        var cursor = offset
        let end = offset + size
        var found = false
        while end - cursor >= 12 {
            let nameSize = try int(at: cursor, size: 4)
            let descriptionSize = try int(at: cursor + 4, size: 4)
            let type = UInt32(try integer(at: cursor + 8, size: 4))
            let nameStart = cursor + 12
            let descriptionStart = nameStart + (nameSize + 3) & ~3
            let next = descriptionStart + (descriptionSize + 3) & ~3
            guard next <= end else { throw fail("a note runs past its note area") }
            let name = Array(bytes[nameStart..<nameStart + nameSize].prefix { $0 != 0 })
            if name == Array("Xen".utf8) {
                found = true
                try apply(type: type, start: descriptionStart, size: descriptionSize, into: &result)
            }
            cursor = next
        }
        return found
    }

    func apply(type: UInt32, start: Int, size: Int, into result: inout XenElfNotes) throws(RunxlError) {
        func number() throws(RunxlError) -> UInt64 {
            guard size == 4 || size == 8 else { throw fail("Xen note \(type) holds \(size) bytes, not a 4- or 8-byte number") }
            return try integer(at: start, size: size)
        }
        switch type {
        case XenElfNotes.noteEntry: result.entry = try number()
        case XenElfNotes.noteHypercallPage: result.hypercallPage = try number()
        case XenElfNotes.notePhys32Entry: result.phys32Entry = try number()
        case XenElfNotes.noteXenVersion: result.xenVersion = try text(offset: start, size: size)
        case XenElfNotes.noteGuestOS: result.guestOS = try text(offset: start, size: size)
        case XenElfNotes.noteLoader: result.loader = try text(offset: start, size: size)
        default: break
        }
    }

    func text(offset: Int, size: Int) throws(RunxlError) -> String {
        guard offset >= 0, size >= 0, offset <= bytes.count, size <= bytes.count - offset else {
            throw fail("a string past the end of the file")
        }
        return String(decoding: bytes[offset..<offset + size].prefix { $0 != 0 }, as: UTF8.self)
    }

    func cString(at offset: Int) -> String? {
        guard offset >= 0, offset < bytes.count else { return nil }
        return String(decoding: bytes[offset...].prefix { $0 != 0 }.prefix(64), as: UTF8.self)
    }
}

extension XenElfNotes {
    init(elfClass: ElfClass) {
        self.elfClass = elfClass
    }
}

/// The size of a regular file (symlinks followed); nil for anything else or nothing.
func regularFileSize(_ path: String) -> Int64? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int64(info.st_size)
}
