import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Progress of a pull or import on stderr: a bar redrawn in place on a terminal, one line per
/// blob otherwise (logs of CI jobs and podman-style wrappers stay readable), nothing when quiet.
public final class TransferReporter {
    public enum Style: Sendable {
        case terminal
        case lines
        case quiet
    }

    public let style: Style
    private var label = ""
    private var total: Int64 = 0
    private var lastDraw = 0.0
    private var started = 0.0

    public init(style: Style) { self.style = style }

    /// A bar when stderr is a terminal, lines otherwise.
    public static func forStandardError() -> TransferReporter {
        TransferReporter(style: isatty(2) == 1 ? .terminal : .lines)
    }

    public func note(_ text: String) {
        guard style != .quiet else { return }
        emit(text + "\n")
    }

    public func begin(_ digest: String, size: Int64, what: String) {
        start(label: "\(what) \(Self.short(digest))", size: size, suffix: " ...")
    }

    public func advance(_ received: Int64) {
        guard style == .terminal else { return }
        let now = Clock.monotonicSeconds()
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        draw(received)
    }

    public func end() {
        let seconds = Clock.monotonicSeconds() - started
        switch style {
        case .terminal:
            draw(total)
            emit("\n")
        case .lines:
            emit("\(label): done in \(Self.formatSeconds(seconds))\n")
        case .quiet: break
        }
    }

    /// Several blobs downloading at once: one bar for all of them on a terminal, a line per
    /// blob as each finishes otherwise. The caller serializes the calls.
    public func beginGroup(count: Int, size: Int64, what: String) {
        start(label: "\(count) \(what)s", size: size, suffix: ", in parallel ...")
    }

    public func groupMemberDone(_ digest: String, size: Int64, what: String, seconds: Double) {
        guard style == .lines else { return }
        emit("\(what) \(Self.short(digest)): \(Self.megabytes(size)) done in \(Self.formatSeconds(seconds))\n")
    }

    /// A transfer of `size` bytes starts: a bar at zero, or the line `LABEL: SIZE` + `suffix`.
    private func start(label: String, size: Int64, suffix: String) {
        self.label = label
        total = size
        started = Clock.monotonicSeconds()
        lastDraw = 0
        switch style {
        case .terminal: draw(0)
        case .lines: emit("\(label): \(Self.megabytes(size))\(suffix)\n")
        case .quiet: break
        }
    }

    /// Ends a bar that will not complete, so that the error starts on a line of its own.
    public func abandon() {
        if style == .terminal { emit("\n") }
    }

    private func draw(_ received: Int64) {
        let width = 30
        let fraction = total > 0 ? min(1, Double(received) / Double(total)) : 1
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        emit("\r\(label) [\(bar)] \(Self.megabytes(received)) / \(Self.megabytes(total))\u{1B}[K")
    }

    static func short(_ digest: String) -> String {
        String(digest.dropFirst(digest.hasPrefix("sha256:") ? 7 : 0).prefix(12))
    }

    static func megabytes(_ bytes: Int64) -> String {
        if bytes < 1024 * 1024 { return "\((bytes + 1023) / 1024) kB" }
        let tenths = bytes * 10 / (1024 * 1024)
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    static func formatSeconds(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
    }

    private func emit(_ text: String) {
        Descriptors.writeAllIfPossible(2, Array(text.utf8))
    }
}
