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
        let text = String(decoding: try FileSystem.read(depFile), as: UTF8.self)
        var dependencies: [String: [String]] = [:]
        var pathsByName: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let path = String(line[..<colon])
            dependencies[path] = line[line.index(after: colon)...].split(separator: " ").map(String.init)
            pathsByName[moduleName(path)] = path
        }
        var ordered: [String] = []
        var seen: Set<String> = []
        func visit(_ path: String) {
            guard seen.insert(path).inserted else { return }
            for dependency in dependencies[path] ?? [] { visit(dependency) }
            ordered.append(path)
        }
        for name in names {
            guard let path = pathsByName[normalize(name)] else {
                // Built into the kernel is as good as loadable.
                let builtin = (try? FileSystem.read(directory + "/modules.builtin")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                if builtin.split(separator: "\n").contains(where: { moduleName(String($0)) == normalize(name) }) { continue }
                throw RunxlError(.invalidKernel, "kernel module '\(name)' is not in \(depFile)")
            }
            visit(path)
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

    private static func moduleName(_ path: String) -> String {
        var file = Substring(path.split(separator: "/").last ?? Substring(path))
        for suffix in [".xz", ".zst", ".gz"] where file.hasSuffix(suffix) { file = file.dropLast(suffix.count) }
        if file.hasSuffix(".ko") { file = file.dropLast(3) }
        return normalize(String(file))
    }

    private static func normalize(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }
}
