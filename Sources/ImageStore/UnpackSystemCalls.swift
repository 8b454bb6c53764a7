#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@_silgen_name("syscall") private func c_syscall_openat2(
    _ number: Int, _ directory: Int32, _ path: UnsafePointer<CChar>, _ how: UnsafeRawPointer, _ size: Int
) -> Int

/// C calls the Glibc module does not export.
enum UnpackSystemCalls {
    /// openat2(2), Linux 5.6, through syscall(2) (glibc 2.36 has no wrapper; its number is the
    /// same on every architecture). syscall is variadic in C; on x86_64 and aarch64 integer
    /// arguments travel in the same registers either way.
    static let openat2Number = 437
    /// RESOLVE_NO_MAGICLINKS and RESOLVE_IN_ROOT from <linux/openat2.h>.
    static let resolveNoMagicLinks: UInt64 = 0x02
    static let resolveInRoot: UInt64 = 0x10

    /// The directory at `path` below `root`, every symlink on the way resolved as if `root` were
    /// `/` (absolute targets and `..` cannot climb out); -1 with errno set, ENOSYS before 5.6.
    static func openDirectoryInRoot(_ root: Int32, _ path: [UInt8]) -> Int32 {
        // struct open_how: flags, mode, resolve (three u64).
        var how: (UInt64, UInt64, UInt64) = (
            UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, resolveInRoot | resolveNoMagicLinks
        )
        let result = path.withCName { name in
            withUnsafeBytes(of: &how) { bytes -> Int in
                guard let base = bytes.baseAddress else { return -1 }
                return c_syscall_openat2(openat2Number, root, name, base, bytes.count)
            }
        }
        return Int32(truncatingIfNeeded: result)
    }

    /// `makedev` is a macro in <sys/sysmacros.h>; this is its Linux encoding of a dev_t.
    static func device(major: UInt32, minor: UInt32) -> dev_t {
        let major = UInt64(major), minor = UInt64(minor)
        return dev_t(((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff))
    }

    private typealias SetAttribute = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32

    /// <sys/xattr.h> is outside Swift's Glibc module; the C library's own symbol is looked up once.
    private static let setAttribute: SetAttribute? = {
        guard let symbol = dlsym(nil, "fsetxattr") else { return nil }
        return unsafeBitCast(symbol, to: SetAttribute.self)
    }()

    /// fsetxattr(2): 0 or -1 with errno set (ENOSYS when the C library lacks it).
    static func setExtendedAttribute(_ fd: Int32, _ name: String, _ value: UnsafeRawBufferPointer) -> Int32 {
        guard let setAttribute else {
            errno = ENOSYS
            return -1
        }
        return name.withCString { setAttribute(fd, $0, value.baseAddress, value.count, 0) }
    }
}
