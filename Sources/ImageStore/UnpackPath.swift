import RunxlBase

/// A layer entry's path reduced to plain components below the rootfs.
///
/// Rules (docs/image-store.md, "Layer unpack"): a leading `/` is dropped, so `/etc/passwd` means
/// the rootfs's `etc/passwd` (the image-spec's paths are relative to the root, and umoci,
/// containerd and GNU tar read absolute names this way); empty and `.` components vanish; `..`
/// removes the component before it and is refused where nothing is left to remove, since that
/// would leave the rootfs. The result never contains `.`, `..`, `/` or an empty component, so no
/// system call resolves a parent reference on our behalf.
struct UnpackPath: Hashable {
    var components: [[UInt8]]

    static let root = UnpackPath(components: [])

    init(components: [[UInt8]]) { self.components = components }

    /// `what` names the path in messages ("entry", "hard link target").
    init(stored: [UInt8], entry: String, what: String, limits: UnpackLimits) throws(RunxlError) {
        guard stored.count <= limits.maxPathLength else {
            throw RunxlError(
                .layerLimitExceeded,
                "layer entry \(entry): \(what) is \(stored.count) bytes long, more than the limit of \(limits.maxPathLength)")
        }
        var components: [[UInt8]] = []
        for component in stored.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.count == 1 && component.first == UInt8(ascii: ".") { continue }
            if component.count == 2 && component.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                guard components.popLast() != nil else {
                    throw RunxlError(
                        .unsafeLayerEntry,
                        "layer entry \(entry): \(what) \(String(decoding: stored, as: UTF8.self)) climbs out of the rootfs with '..'")
                }
                continue
            }
            components.append(Array(component))
        }
        guard components.count <= limits.maxPathDepth else {
            throw RunxlError(
                .layerLimitExceeded,
                "layer entry \(entry): \(what) has \(components.count) components, more than the limit of \(limits.maxPathDepth)")
        }
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

/// OCI whiteout names (image-spec layer.md, "Whiteouts").
enum UnpackWhiteout {
    static let prefix = Array(".wh.".utf8)
    static let opaqueMarker = Array(".wh..wh..opq".utf8)
    /// `.wh..wh.*` names other than the opaque marker are AUFS bookkeeping (hard link directories
    /// and the like), which image-spec says to ignore.
    static let metadataPrefix = Array(".wh..wh.".utf8)

    enum Kind: Equatable {
        case none
        case opaque
        case metadata
        /// Hides this name in the same directory.
        case hide([UInt8])
    }

    static func kind(of name: [UInt8]) -> Kind {
        guard name.starts(with: prefix) else { return .none }
        if name == opaqueMarker { return .opaque }
        if name.starts(with: metadataPrefix) { return .metadata }
        return .hide(Array(name.dropFirst(prefix.count)))
    }
}
