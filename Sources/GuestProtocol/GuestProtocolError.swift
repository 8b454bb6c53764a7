/// Why a guest protocol message, frame or document was refused.
///
/// GuestProtocol has no dependency (it is linked into the static init), so it cannot throw
/// `RunxlError`; the host wraps this in one with the code that fits where the input came from.
public struct GuestProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
