#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Milestones of a slow operation with the time since this process started (`--debug`), so a
/// create that is slower than `xl create` shows where: the process start itself included.
public struct PhaseTrace: Sendable {
    let emit: @Sendable (String) -> Void

    public init(_ emit: @escaping @Sendable (String) -> Void) { self.emit = emit }

    public static let silent = PhaseTrace { _ in }

    public func mark(_ phase: String) {
        let milliseconds = Int((Clock.monotonicSeconds() - Self.processStart) * 1000)
        emit("\(phase) at +\(milliseconds) ms (pid \(getpid()))")
    }

    /// This process's start on the monotonic clock: /proc/self/stat field 22, in clock ticks
    /// since boot. Falls back to the first use when /proc is unreadable.
    static let processStart: Double = {
        let fallback = Clock.monotonicSeconds()
        guard let bytes = try? FileSystem.read("/proc/self/stat"),
            case let text = String(decoding: bytes, as: UTF8.self), let close = text.lastIndex(of: ")")
        else { return fallback }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // Fields after the command start at field 3 (state); starttime is field 22.
        guard fields.count > 19, let ticks = Double(fields[19]) else { return fallback }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return perSecond > 0 ? ticks / perSecond : fallback
    }()
}
