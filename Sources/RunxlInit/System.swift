import Glibc
import GuestProtocol
import RunxlBase

// C functions the Glibc module does not import (variadic in C, or behind headers it leaves out).
// On x86_64 and aarch64 a variadic callee reads integer arguments from the same registers a
// fixed-arity call fills, so these declarations are sound for integer arguments.
@_silgen_name("prctl") func c_prctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32
@_silgen_name("signalfd") func c_signalfd(_ fd: Int32, _ mask: UnsafePointer<sigset_t>, _ flags: Int32) -> Int32
@_silgen_name("capset") func c_capset(_ header: UnsafeMutableRawPointer, _ data: UnsafeMutableRawPointer) -> Int32
@_silgen_name("reboot") func c_reboot(_ command: Int32) -> Int32
@_silgen_name("unshare") func c_unshare(_ flags: Int32) -> Int32
/// syscall(2) for the calls glibc has no wrapper for (finit_module, a clone without a stack of
/// its own); one declaration, as Swift requires one type per C symbol.
@_silgen_name("syscall") func c_syscall(_ number: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int) -> Int
@_silgen_name("pipe2") func c_pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

enum Linux {
    static let rebootPowerOff: Int32 = 0x4321_FEDC
    static let prSetKeepCaps: Int32 = 8
    static let prCapBSetDrop: Int32 = 24
    static let prSetChildSubreaper: Int32 = 36
    static let prSetNoNewPrivs: Int32 = 38
    static let prCapAmbient: Int32 = 47
    static let prCapAmbientRaise: UInt = 2
    static let prCapAmbientClearAll: UInt = 4
    static let capabilityVersion3: UInt32 = 0x2008_0522
    static let cloneNewPID: Int32 = 0x2000_0000

    static func makeDevice(major: UInt64, minor: UInt64) -> dev_t {
        dev_t(((major & 0xFFF) << 8) | (minor & 0xFF) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32))
    }
}

/// A failure inside init: what to tell the host, and the exit status that says so.
struct InitFailure: Error {
    var message: String
    /// 127/126 for a program that cannot be found or executed, as a shell reports them; nil
    /// when init itself failed (reported as `failed:<message>`).
    var exitCode: Int32?

    init(_ message: String, exitCode: Int32? = nil) {
        self.message = message
        self.exitCode = exitCode
    }

    var status: GuestExitStatus {
        if let exitCode { return .exited(exitCode) }
        return .failed(message)
    }
}

func errnoText(_ value: Int32) -> String {
    guard let text = strerror(value) else { return "errno \(value)" }
    return String(cString: text)
}

/// Throws an `InitFailure` naming the operation when a libc call returns -1.
@discardableResult
func check(_ result: Int32, _ what: @autoclosure () -> String) throws(InitFailure) -> Int32 {
    if result == -1 {
        let code = errno
        throw InitFailure("\(what()): \(errnoText(code))")
    }
    return result
}

/// Retries a call interrupted by a signal.
func retryingEINTR(_ call: () -> Int) -> Int {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// The whole file, or a failure naming it. Bounded so that a huge file cannot exhaust memory.
func readWholeFile(_ path: String, limit: Int) throws(InitFailure) -> [UInt8] {
    do {
        return try FileSystem.read(path, limit: limit)
    } catch {
        throw InitFailure(error.description)
    }
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode
}

func isDirectory(_ mode: mode_t) -> Bool { (mode & S_IFMT) == S_IFDIR }

/// mkdir -p; existing directories are fine.
func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(InitFailure) {
    do {
        try FileSystem.makeDirectories(path, mode: mode)
    } catch {
        throw InitFailure(error.description)
    }
}

/// An environment variable of init's own environment.
func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// NUL-terminated C strings for execve, kept alive for the closure's duration.
func withCStringArray<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
