public import RunxlBase

/// How a layer entry's stored path is read, for every reader of image layers: the unpacker
/// (ImageStore's `UnpackPath`) and the initramfs streamed from layers (GuestBuild's
/// `LayerStreamer`). One reading, so that both place, hide and refuse exactly the same entries.
///
/// Rules (docs/image-store.md, "Layer unpack"): a leading `/` is dropped, so `/etc/passwd` means
/// the rootfs's `etc/passwd` (the image-spec's paths are relative to the root, and umoci,
/// containerd and GNU tar read absolute names this way); empty and `.` components vanish; `..`
/// removes the component before it and is refused where nothing is left to remove, since that
/// would leave the rootfs. The result never contains `.`, `..`, `/` or an empty component, so no
/// system call resolves a parent reference on our behalf.
public enum LayerEntryPath {
    /// `what` names the path in messages ("path", "hard link target"); `entry` is the entry's
    /// stored name. `[]` is the rootfs itself.
    public static func components(of stored: [UInt8], entry: String, what: String) throws(RunxlError) -> [ArraySlice<UInt8>] {
        var components: [ArraySlice<UInt8>] = []
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
            components.append(component)
        }
        return components
    }
}

/// OCI whiteout names (image-spec layer.md, "Whiteouts").
public enum LayerWhiteout {
    public static let prefix = Array(".wh.".utf8)
    public static let opaqueMarker = Array(".wh..wh..opq".utf8)
    /// `.wh..wh.*` names other than the opaque marker are AUFS bookkeeping (hard link directories
    /// and the like), which image-spec says to ignore.
    public static let metadataPrefix = Array(".wh..wh.".utf8)

    public enum Kind: Equatable, Sendable {
        case none
        case opaque
        case metadata
        /// Hides this name in the same directory.
        case hide([UInt8])
    }

    public static func kind(of name: some Collection<UInt8>) -> Kind {
        guard name.starts(with: prefix) else { return .none }
        if name.elementsEqual(opaqueMarker) { return .opaque }
        if name.starts(with: metadataPrefix) { return .metadata }
        return .hide(Array(name.dropFirst(prefix.count)))
    }
}
