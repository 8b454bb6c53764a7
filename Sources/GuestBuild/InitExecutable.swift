public import RunxlBase

/// runxl-init runs as the guest's PID 1 from an initramfs that holds no libraries, so it must be
/// a static executable. A plain `swift build` puts a dynamically linked runxl-init beside runxl,
/// and a guest booted with it dies before printing anything: the check refuses it on the host,
/// naming the fix.
public enum InitExecutable {
    /// Program headers beyond this are not read: a static executable's come right after its
    /// 64-byte header.
    static let headerLimit = 65536

    public static func check(_ path: String) throws(RunxlError) {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readPrefix(path, count: headerLimit)
        } catch {
            throw RunxlError(.initBinaryInvalid, "cannot read runxl-init at \(path)", cause: error)
        }
        if let problem = problem(in: bytes) {
            throw RunxlError(
                .initBinaryInvalid,
                "runxl-init at \(path) \(problem), but it runs as the guest's PID 1 with no libraries: build the static "
                    + "one with Scripts/build-init (or install runxl with Scripts/install) and point RUNXL_INIT at it")
        }
    }

    /// Why `bytes` (the start of a file) is not a static executable, or nil when it is one.
    static func problem(in bytes: [UInt8]) -> String? {
        guard bytes.count >= 64, bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else { return "is not an ELF executable" }
        guard bytes[4] == 2, bytes[5] == 1 else { return "is not a 64-bit little-endian ELF executable" }
        func integer(_ offset: Int, _ size: Int) -> Int? {
            guard offset >= 0, offset + size <= bytes.count else { return nil }
            var value = 0
            for index in (0..<size).reversed() { value = value << 8 | Int(bytes[offset + index]) }
            return value
        }
        // ET_EXEC, or ET_DYN for a static-pie; a shared library would have no entry point.
        guard let type = integer(0x10, 2), type == 2 || type == 3 else { return "is not an ELF executable" }
        guard let headers = integer(0x20, 8), let entrySize = integer(0x36, 2), let entries = integer(0x38, 2),
            entrySize >= 56, headers + entries * entrySize <= bytes.count
        else { return "has program headers runxl cannot read" }
        for index in 0..<entries {
            // PT_INTERP names the dynamic loader: the executable needs shared libraries.
            if integer(headers + index * entrySize, 4) == 3 { return "is dynamically linked" }
        }
        return nil
    }
}
