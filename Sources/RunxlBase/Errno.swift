#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's text for an errno value ("No such file or directory").
public func errnoDescription(_ value: Int32) -> String {
    guard let text = strerror(value) else { return "errno \(value)" }
    return String(cString: text)
}

/// The calling thread's current errno.
public var currentErrno: Int32 { errno }
