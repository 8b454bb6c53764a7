#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// C calls the Glibc module does not export.
enum UnpackSystemCalls {
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
