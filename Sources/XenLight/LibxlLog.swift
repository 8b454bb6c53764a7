internal import CXenLight
import Glibc
import RunxlBase
import Synchronization

/// How much of libxl's own logging reaches the caller's log closure.
public enum XenLightLogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug = 1
    case verbose
    case detail
    case progress
    case info
    case notice
    case warning
    case error
    case critical

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    var name: String {
        switch self {
        case .debug: "debug"
        case .verbose: "verbose"
        case .detail: "detail"
        case .progress: "progress"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }
}

/// Receives libxl's log messages through a xentoollog logger and forwards them to Swift.
///
/// Besides forwarding, it remembers the warnings and errors each thread sees while a call is being
/// captured: libxl's return codes rarely say what went wrong (a bad kernel and a full host are both
/// `ERROR_FAIL`), its log lines do, and runxl's errors should carry them.
final class LibxlLog: Sendable {
    struct Record: Sendable {
        let level: XenLightLogLevel
        let errno: Int32?
        let text: String
    }

    /// Warnings and errors are always captured, even when the caller forwards less.
    static let captureLevel = XenLightLogLevel.warning

    let forwardLevel: XenLightLogLevel
    private let forward: @Sendable (String) -> Void
    /// Records per capturing thread (pthread_self), so concurrent calls do not see each other's lines.
    private let captures = Mutex<[UInt: [Record]]>([:])

    init(level: XenLightLogLevel, forward: @escaping @Sendable (String) -> Void) {
        self.forwardLevel = level
        self.forward = forward
    }

    /// The least level the C logger must pass on: what is forwarded or captured.
    var cLevel: Int32 { Int32(min(forwardLevel, Self.captureLevel).rawValue) }

    func receive(level rawLevel: Int32, errno errnoValue: Int32, context: String?, message: String) {
        let level = XenLightLogLevel(rawValue: Int(rawLevel)) ?? .critical
        let errnoPart = errnoValue >= 0 ? ": \(errnoDescription(errnoValue))" : ""
        if level >= forwardLevel {
            forward("\(context ?? "xen"): \(level.name): \(message)\(errnoPart)")
        }
        if level >= Self.captureLevel {
            let thread = UInt(pthread_self())
            let record = Record(level: level, errno: errnoValue >= 0 ? errnoValue : nil, text: message + errnoPart)
            captures.withLock { captures in
                // Only threads that asked for a capture collect records.
                if captures[thread] != nil { captures[thread]?.append(record) }
            }
        }
    }

    func beginCapture() {
        let thread = UInt(pthread_self())
        captures.withLock { $0[thread] = [] }
    }

    func endCapture() -> [Record] {
        let thread = UInt(pthread_self())
        return captures.withLock { $0.removeValue(forKey: thread) ?? [] }
    }

    /// Runs `body` and returns the records logged on this thread meanwhile, on success and failure.
    func capturing<T>(_ body: () -> T) -> (T, [Record]) {
        beginCapture()
        let result = body()
        return (result, endCapture())
    }

    /// The C sink handed to `runxl_logger_create`; `user` is an unretained `LibxlLog`.
    static let cSink: runxl_log_sink = { user, level, errnoValue, context, message in
        guard let user, let message else { return }
        let log = Unmanaged<LibxlLog>.fromOpaque(user).takeUnretainedValue()
        log.receive(
            level: level, errno: errnoValue, context: context.map { String(cString: $0) },
            message: String(cString: message))
    }
}

/// Bytes of C heap in use (glibc `mallinfo2`); lets the lab tests detect leaks in libxl use.
func heapBytesInUse() -> Int { Int(runxl_heap_bytes_in_use()) }
