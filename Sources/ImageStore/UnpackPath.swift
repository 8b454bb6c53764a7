import Archive
import RunxlBase

/// A layer entry's path reduced to plain components below the rootfs (the rules are
/// `LayerEntryPath`'s, shared with the streamed initramfs), within the unpack's limits.
struct UnpackPath: Hashable {
    var components: [[UInt8]]

    static let root = UnpackPath(components: [])

    init(components: [[UInt8]]) { self.components = components }

    /// `what` names the path in messages ("entry", "hard link target").
    init(stored: [UInt8], entry: String, what: String, limits: UnpackLimits) throws(RunxlError) {
        try limits.checkPathLength(stored.count, entry: entry, what: what)
        let components = try LayerEntryPath.components(of: stored, entry: entry, what: what).map { Array($0) }
        try limits.checkPathDepth(components.count, entry: entry, what: what)
        self.components = components
    }

    var isRoot: Bool { components.isEmpty }
    var name: [UInt8] { components.last ?? [] }
    var parent: UnpackPath { UnpackPath(components: Array(components.dropLast())) }

    func appending(_ name: [UInt8]) -> UnpackPath { UnpackPath(components: components + [name]) }

    /// True when `self` is `other` or lies below it.
    func isWithin(_ other: UnpackPath) -> Bool {
        components.count >= other.components.count && Array(components.prefix(other.components.count)) == other.components
    }

    var display: String {
        components.isEmpty ? "/" : components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
    }
}
