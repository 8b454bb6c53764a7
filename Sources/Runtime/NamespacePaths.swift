import OCI
import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checks each `linux.namespaces` entry that names a path before create makes anything: the
/// path must open and be a namespace of that entry's type, as runc's setns would insist.
///
/// Why, when a guest joins none of them: the network path is read (its interfaces become the
/// guest's), and the rest are what a caller meant to share; a typo or a wrong type is a broken
/// config.json, which runc refuses and which would otherwise go unnoticed (runtime-tools'
/// linux_ns_path_type). The kernel says the type itself (`NS_GET_NSTYPE`, Linux 4.11), so a
/// bind-mounted namespace file (/run/netns/NAME) is checked as well as /proc/PID/ns/TYPE.
enum NamespacePaths {
    /// `NS_GET_NSTYPE` from linux/nsfs.h: _IO(0xb7, 0x3).
    private static let getNamespaceType: UInt = 0xB703

    static func check(_ spec: Spec) throws(RunxlError) {
        for (index, namespace) in (spec.linux?.namespaces ?? []).enumerated() {
            guard let path = namespace.path, !path.isEmpty else { continue }
            let field = "linux.namespaces[\(index)] (\(namespace.type.rawValue))"
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let err = errno
                throw RunxlError(.invalidConfig, "\(field): cannot open \(path)", cause: SystemCallError("open", errno: err))
            }
            defer { close(fd) }
            let actual = ioctl(fd, getNamespaceType)
            guard actual >= 0 else {
                let err = errno
                throw RunxlError(.invalidConfig, "\(field): \(path) is not a namespace file", cause: SystemCallError("ioctl NS_GET_NSTYPE", errno: err))
            }
            guard actual == cloneFlag(namespace.type) else {
                let actualName = LinuxNamespaceType.allCases.first { cloneFlag($0) == actual }?.rawValue ?? "unknown (\(actual))"
                throw RunxlError(
                    .invalidConfig, "\(field): \(path) is a namespace of type \(actualName), not \(namespace.type.rawValue)")
            }
        }
    }

    /// The kernel's CLONE_NEW* value for each type (linux/sched.h).
    static func cloneFlag(_ type: LinuxNamespaceType) -> Int32 {
        switch type {
        case .mount: 0x0002_0000
        case .cgroup: 0x0200_0000
        case .uts: 0x0400_0000
        case .ipc: 0x0800_0000
        case .user: 0x1000_0000
        case .pid: 0x2000_0000
        case .network: 0x4000_0000
        case .time: 0x0000_0080
        }
    }
}
