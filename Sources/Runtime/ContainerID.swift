public import RunxlBase

/// A container id, validated once so that no path built from it can leave `--root`.
///
/// The character set is runc's (`[A-Za-z0-9_+.-]+`), so any id podman or containerd hands runc
/// is accepted here too; `.` and `..` are refused because they name directories.
public struct ContainerID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    /// Long enough for the 64-hex ids podman and containerd use, short enough for file names.
    public static let maximumLength = 1024

    public init(_ text: String) throws(RunxlError) {
        guard !text.isEmpty else {
            throw RunxlError(.invalidContainerID, "container id must not be empty")
        }
        guard text != ".", text != "..", text.utf8.count <= Self.maximumLength,
            text.utf8.allSatisfy(Self.isAllowed)
        else {
            throw RunxlError(
                .invalidContainerID,
                "invalid container id '\(text)': use letters, digits, '_', '+', '-' and '.' only")
        }
        rawValue = text
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    public var description: String { rawValue }
}
