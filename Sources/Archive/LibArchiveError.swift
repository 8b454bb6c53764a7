internal import CArchive
import RunxlBase

/// libarchive's own description of its last failure, kept as the cause of a `RunxlError`.
public struct LibArchiveError: Error, Sendable, CustomStringConvertible {
    public let status: Int32
    public let errno: Int32
    public let message: String

    init(_ archive: OpaquePointer?, status: Int32) {
        self.status = status
        self.errno = archive.map { rx_archive_errno($0) } ?? 0
        self.message = archive.flatMap { rx_archive_error_string($0) }.map { String(cString: $0) } ?? "libarchive status \(status)"
    }

    public var description: String { message }
}

/// A path as a NUL-terminated byte buffer, so names that are not valid UTF-8 survive unchanged.
extension Array where Element == UInt8 {
    func withCPath<Result>(_ body: (UnsafePointer<CChar>) throws(RunxlError) -> Result) throws(RunxlError) -> Result {
        var terminated = self
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer throws(RunxlError) -> Result in
            try buffer.withMemoryRebound(to: CChar.self) { chars throws(RunxlError) -> Result in
                // A non-empty buffer always has a base address.
                guard let base = chars.baseAddress else { throw RunxlError(.internal, "empty path buffer") }
                return try body(base)
            }
        }
    }

    /// The bytes as text for messages; invalid UTF-8 is shown with replacement characters.
    var displayString: String { String(decoding: self, as: UTF8.self) }
}
