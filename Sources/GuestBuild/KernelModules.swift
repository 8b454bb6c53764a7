public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One kernel module file to put into the initramfs.
public struct KernelModuleFile: Sendable, Equatable {
    /// The file name inside `GuestLayout.modulesDirectory`, e.g. `xenfs.ko`.
    public var guestName: String
    public var hostPath: String
}

/// Finds kernel modules and their dependencies in `/lib/modules/<release>/modules.dep`, the way
/// `modprobe --show-depends` does, without running modprobe.
public enum KernelModules {
    /// The modules named (modprobe names: `-` and `_` are the same) with every dependency, in an
    /// order in which each can be loaded after the ones before it.
    public static func resolve(
        _ names: [String], release: String, modulesRoot: String = "/lib/modules"
    ) throws(RunxlError) -> [KernelModuleFile] {
        guard !names.isEmpty else { return [] }
        let directory = modulesRoot + "/" + release
        let depFile = directory + "/modules.dep"
        guard FileSystem.exists(depFile) else {
            throw RunxlError(
                .invalidKernel,
                "no modules for guest kernel \(release): \(depFile) is missing (install that kernel's modules or set \"modules\": [] in \(HostConfig.defaultPath))")
        }
        // Only the lines needed are read out of the file (memmem per module), not all of its
        // thousands: create pays this on every guest, and under the lab's emulation building
        // the whole table cost about a second.
        let table = ModulesDependencyFile(try FileSystem.read(depFile))
        var ordered: [String] = []
        var seen: Set<String> = []
        func visit(_ path: String, dependencies: [String]) {
            guard seen.insert(path).inserted else { return }
            for dependency in dependencies {
                visit(dependency, dependencies: table.dependencies(ofPath: dependency) ?? [])
            }
            ordered.append(path)
        }
        for name in names {
            guard let (path, dependencies) = table.entry(named: normalize(name)) else {
                // Built into the kernel is as good as loadable.
                let builtin = (try? FileSystem.read(directory + "/modules.builtin")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                if builtin.split(separator: "\n").contains(where: { moduleName(String($0)) == normalize(name) }) { continue }
                throw RunxlError(.invalidKernel, "kernel module '\(name)' is not in \(depFile)")
            }
            visit(path, dependencies: dependencies)
        }
        return ordered.map { path in
            let file = path.split(separator: "/").last.map(String.init) ?? path
            return KernelModuleFile(guestName: file, hostPath: directory + "/" + path)
        }
    }

    /// The release of a kernel file: from a `vmlinuz-<release>` name, else from a bzImage's
    /// version string; nil when neither says.
    public static func release(ofKernel path: String) -> String? {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        for prefix in ["vmlinuz-", "vmlinux-"] where file.hasPrefix(prefix) {
            return String(file.dropFirst(prefix.count))
        }
        guard let head = try? KernelImage.readPrefix(path, count: 64 << 10), head.count > 0x210,
            head[0x202...0x205].elementsEqual("HdrS".utf8)
        else { return nil }
        let pointer = Int(head[0x20E]) | Int(head[0x20F]) << 8
        let start = pointer + 0x200
        guard pointer != 0, start < head.count else { return nil }
        let version = head[start...].prefix { $0 != 0 && $0 != 0x20 }
        return version.isEmpty ? nil : String(decoding: version, as: UTF8.self)
    }

    static func moduleName(_ path: String) -> String {
        var file = Substring(path.split(separator: "/").last ?? Substring(path))
        for suffix in [".xz", ".zst", ".gz"] where file.hasSuffix(suffix) { file = file.dropLast(suffix.count) }
        if file.hasSuffix(".ko") { file = file.dropLast(3) }
        return normalize(String(file))
    }

    static func normalize(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }
}

/// `modules.dep`'s lines (`PATH: DEPENDENCY...`), looked up by module name or path in the raw
/// bytes.
struct ModulesDependencyFile {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The line of the module whose name (normalised: `_` for `-`) is `name`.
    func entry(named name: String) -> (path: String, dependencies: [String])? {
        // A file name may spell a separator either way; try the name as given and with dashes.
        for spelling in Set([name, String(name.map { $0 == "_" ? "-" : $0 })]) {
            for start in occurrences(of: Array("/\(spelling).ko".utf8)) + occurrences(of: Array("\(spelling).ko".utf8), atLineStart: true) {
                guard let line = line(around: start), let colon = bytes[line].firstIndex(of: UInt8(ascii: ":")), colon > start else {
                    continue
                }
                let path = String(decoding: bytes[line.lowerBound..<colon], as: UTF8.self)
                guard KernelModules.moduleName(path) == name else { continue }
                return (path, dependencies(in: bytes[(colon + 1)..<line.upperBound]))
            }
        }
        return nil
    }

    /// The dependencies on `path`'s line; nil when it has none.
    func dependencies(ofPath path: String) -> [String]? {
        for start in occurrences(of: Array("\(path):".utf8), atLineStart: true) {
            guard let line = line(around: start) else { continue }
            return dependencies(in: bytes[(start + path.utf8.count + 1)..<line.upperBound])
        }
        return nil
    }

    private func dependencies(in text: ArraySlice<UInt8>) -> [String] {
        text.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The line holding offset `index`, without its newline.
    private func line(around index: Int) -> Range<Int>? {
        guard index < bytes.count else { return nil }
        var start = index
        while start > 0, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        return start..<end
    }

    /// Every offset where `needle` starts (only at a line's start, when asked): memchr for its
    /// first byte, memcmp for the rest (glibc's memmem needs _GNU_SOURCE, which Swift's Glibc
    /// module leaves out).
    private func occurrences(of needle: [UInt8], atLineStart: Bool = false) -> [Int] {
        guard let first = needle.first else { return [] }
        var found: [Int] = []
        bytes.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { wanted in
                guard let base = haystack.baseAddress, let wantedBase = wanted.baseAddress else { return }
                var offset = 0
                while offset + needle.count <= haystack.count {
                    guard let hit = memchr(base + offset, Int32(first), haystack.count - offset - needle.count + 1) else { break }
                    let position = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(hit, wantedBase, needle.count) == 0,
                        !atLineStart || position == 0 || bytes[position - 1] == UInt8(ascii: "\n")
                    {
                        found.append(position)
                    }
                    offset = position + 1
                }
            }
        }
        return found
    }
}
