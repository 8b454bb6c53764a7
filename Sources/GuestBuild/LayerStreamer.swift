import Archive
import RunxlBase

/// Streams an image's layers into a cpio archive as the tree they unpack to, without that tree
/// ever existing on disk: each entry goes straight from the layer (libarchive) into the writer.
///
/// One layer is streamed as it is (its whiteouts dropped). With more, a first pass reads the
/// headers of layers 2..n and notes, per path, the last position that writes it (as a directory
/// or not), the last layer that whites it out or makes it opaque, and the last hard link to it;
/// the second pass then leaves out every entry something later hides. An entry at position P
/// (layer L) is hidden when, later than P:
/// - a non-directory is written at its path or at a directory above it,
/// - a directory is written at its path while it is not one,
/// - a layer above L whites out its path or a directory above it, or makes a directory above it
///   opaque (a whiteout hides lower layers only, whatever the order within its own layer).
/// A directory that survives is written once, where it first appears, with the metadata of its
/// last declaration: a later declaration merges into it as it does on disk.
///
/// newc expresses hard links by repeating an inode number, and the kernel links the names only
/// when the first of them says it has several links. A hard link whose target went out before
/// that was known (a link inside layer 1, or to a file a later layer hides) is kept aside, and
/// after the pass the target's data is read again from its layer and the group written anew.
/// That costs a read of the layer up to the target and, when the target itself was written,
/// a second copy of it in the archive, which the kernel replaces in place.
///
/// Paths follow `LayerUnpacker`'s rules: a leading `/` and `.` components are dropped, `..`
/// that would leave the root is refused (`unsafeLayerEntry`), so is an entry below a symlink.
/// `LayerLimits` bound the work as they bound the unpacker's (`layerLimitExceeded`): layers per
/// image, entries per layer, path length and depth, and bytes of file contents per layer and in
/// all, counted by the files' sizes since a cpio archive spells out a sparse file's holes.
///
/// With diff_ids, every read of a layer that goes to the archive (the second pass, and the
/// re-read for hard links) hashes the whole uncompressed stream and fails with
/// `digestMismatch` at its end, before the archive is kept; the first pass, which only notes
/// names, is not hashed (the second pass reads the same layers).
final class LayerStreamer {
    private let layers: [String]
    private let diffIDs: [String]?
    private let makeDigester: StreamDigesterFactory
    private let writer: CpioWriter?
    private let limits: LayerLimits
    private var totalFileBytes: Int64 = 0

    // First pass (layers 2..n): positions are `layer << 40 | ordinal`.
    private var lastNonDirectory: [[UInt8]: Int] = [:]
    private var lastDirectory: [[UInt8]: (position: Int, metadata: EntryMetadata)] = [:]
    private var whiteoutLayer: [[UInt8]: Int] = [:]
    private var opaqueLayer: [[UInt8]: Int] = [:]
    private var lastHardLinkTo: [[UInt8]: Int] = [:]
    private var sawLaterLayers = false

    // Second pass.
    private var emitted: [[UInt8]: Emitted] = [:]
    /// What each non-directory path holds at this point of the layer sequence, hidden or not:
    /// hard links resolve their target through it.
    private var occupant: [[UInt8]: Occupant] = [:]
    private var deferred: [FileIdentity] = []
    private var captured: [String: [UInt8]] = [:]

    private struct Emitted {
        var node: RootfsListing.Node
        var metadata: EntryMetadata
    }

    private final class FileIdentity {
        let layer: Int
        let ordinal: Int
        let path: [UInt8]
        let size: Int64
        let metadata: EntryMetadata
        /// Set once written; `linkCount` says whether later names can share it.
        var inode: Int64?
        var linkCount: UInt32 = 1
        var pendingNames: [[UInt8]] = []

        init(layer: Int, ordinal: Int, path: [UInt8], size: Int64, metadata: EntryMetadata) {
            self.layer = layer
            self.ordinal = ordinal
            self.path = path
            self.size = size
            self.metadata = metadata
        }
    }

    private enum Occupant {
        case file(FileIdentity)
        case other(ArchiveEntryHeader, EntryMetadata)
    }

    private static let slash = UInt8(ascii: "/")
    private static let defaultDirectory = EntryMetadata(permissions: 0o755)
    private static let capturedLimit = 16 << 20

    /// `writer` nil: only the listing is made (no archive).
    init(layers: ImageLayers, writer: CpioWriter?, limits: LayerLimits = .standard) {
        self.layers = layers.paths
        self.diffIDs = layers.diffIDs
        self.makeDigester = layers.makeDigester
        self.writer = writer
        self.limits = limits
    }

    /// Runs both passes; returns the listing of the tree written.
    func run() throws(RunxlError) -> RootfsListing {
        try limits.checkLayerCount(layers.count, image: "the image")
        if let diffIDs, diffIDs.count != layers.count {
            throw RunxlError(.invalidImage, "the image config lists \(diffIDs.count) diff_ids for \(layers.count) layers")
        }
        if layers.count > 1 {
            for layer in 1..<layers.count { try scan(layer: layer) }
        }
        for layer in layers.indices { try stream(layer: layer) }
        try writeDeferredLinks()
        var listing = RootfsListing(nodes: [:], files: captured)
        for (path, entry) in emitted { listing.nodes[String(decoding: path, as: UTF8.self)] = entry.node }
        if listing.nodes[""] == nil { listing.nodes[""] = RootfsListing.Node(kind: .directory, permissions: 0o755) }
        return listing
    }

    // MARK: - First pass

    private func scan(layer: Int) throws(RunxlError) {
        let stream = try openLayer(layer, checked: false)
        var ordinal = 0
        while let header = try stream.nextHeader() {
            ordinal += 1
            let position = layer << 40 | ordinal
            let entry = String(decoding: header.path, as: UTF8.self)
            try checkEntryCount(ordinal, layer: layer, entry: entry)
            let path = try normalize(header.path, entry: entry, what: "path")
            let name = Self.lastComponent(path)
            let whiteout = LayerWhiteout.kind(of: name)
            if whiteout != .none {
                switch whiteout {
                case .opaque:
                    opaqueLayer[Self.parent(path)] = layer
                case .hide(let hidden):
                    whiteoutLayer[Self.parent(path) + (path.count > name.count ? [Self.slash] : []) + hidden] = layer
                case .metadata, .none:
                    break
                }
                sawLaterLayers = true
                continue
            }
            if let target = header.hardlinkTarget {
                let normalized = try normalize(target, entry: entry, what: "hard link target")
                guard normalized != path else { continue }
                lastNonDirectory[path] = position
                lastHardLinkTo[normalized] = position
            } else {
                switch header.kind {
                case .directory:
                    lastDirectory[path] = (position, try Self.metadata(header, entry: entry))
                case .regular, .symlink, .characterDevice, .blockDevice, .fifo:
                    lastNonDirectory[path] = position
                case .socket, nil:
                    continue  // the unpacker skips these: they hide nothing
                }
            }
            sawLaterLayers = true
        }
    }

    private func isHidden(_ path: [UInt8], position: Int, isDirectory: Bool) -> Bool {
        guard sawLaterLayers else { return false }
        let layer = position >> 40
        if let later = lastNonDirectory[path], later > position { return true }
        if !isDirectory, let later = lastDirectory[path], later.position > position { return true }
        if let later = whiteoutLayer[path], later > layer { return true }
        if let later = opaqueLayer[[]], later > layer, !path.isEmpty { return true }
        for index in path.indices where path[index] == Self.slash {
            let ancestor = Array(path[..<index])
            if let later = whiteoutLayer[ancestor], later > layer { return true }
            if let later = opaqueLayer[ancestor], later > layer { return true }
            if let later = lastNonDirectory[ancestor], later > position { return true }
        }
        return false
    }

    // MARK: - Second pass

    private func stream(layer: Int) throws(RunxlError) {
        let stream = try openLayer(layer, checked: true)
        var ordinal = 0
        var layerFileBytes: Int64 = 0
        while let header = try stream.nextHeader() {
            ordinal += 1
            let position = layer << 40 | ordinal
            let entry = String(decoding: header.path, as: UTF8.self)
            try checkEntryCount(ordinal, layer: layer, entry: entry)
            if header.kind == .regular, header.hardlinkTarget == nil {
                try countFileBytes(max(0, header.size), layerBytes: &layerFileBytes, layer: layer, entry: entry)
            }
            do {
                try apply(header, entry: entry, layer: layer, ordinal: ordinal, position: position, from: stream)
            } catch {
                throw RunxlError(error.code, "layer \(layers[layer]): \(error.message)", cause: error.cause)
            }
        }
        try verify(stream, layer: layer)
    }

    private func apply(
        _ header: ArchiveEntryHeader, entry: String, layer: Int, ordinal: Int, position: Int,
        from stream: ArchiveEntryStream
    ) throws(RunxlError) {
        let path = try normalize(header.path, entry: entry, what: "path")
        if path.isEmpty {
            guard header.kind == .directory, header.hardlinkTarget == nil else {
                throw RunxlError(.unsafeLayerEntry, "layer entry \(entry) would replace the rootfs directory itself")
            }
            try writeDirectory(path, header: header, entry: entry, position: position)
            return
        }
        // Whiteouts were applied by leaving entries out; runxl-init's own directory is ours.
        if Self.lastComponent(path).starts(with: LayerWhiteout.prefix) { return }
        if Self.firstComponent(path).elementsEqual(Self.runxlDirectory) { return }

        if let target = header.hardlinkTarget {
            let targetPath = try normalize(target, entry: entry, what: "hard link target")
            guard targetPath != path else { return }
            guard let found = occupant[targetPath] else {
                if emitted[targetPath]?.node.kind == .directory {
                    throw RunxlError(
                        .unsafeLayerEntry,
                        "layer entry \(entry): hard link to a directory (\(String(decoding: targetPath, as: UTF8.self)))")
                }
                throw RunxlError(
                    .unsafeLayerEntry,
                    "layer entry \(entry): hard link target \(String(decoding: targetPath, as: UTF8.self)) does not exist in the rootfs")
            }
            occupant[path] = found
            guard !isHidden(path, position: position, isDirectory: false) else { return }
            try ensureParents(of: path, entry: entry, position: position)
            switch found {
            case .file(let identity):
                if let inode = identity.inode, identity.linkCount >= 2 {
                    try writer?.addHardLink(path, inode: inode, metadata: identity.metadata, linkCount: identity.linkCount)
                } else {
                    if identity.pendingNames.isEmpty { deferred.append(identity) }
                    identity.pendingNames.append(path)
                }
                record(path, .regular, identity.metadata)
            case .other(let original, let metadata):
                try writeNonRegular(path, original, metadata: metadata)
            }
            return
        }

        switch header.kind {
        case .directory:
            occupant[path] = nil
            guard !isHidden(path, position: position, isDirectory: true) else { return }
            try writeDirectory(path, header: header, entry: entry, position: position)
        case .regular:
            let metadata = try Self.metadata(header, entry: entry)
            let identity = FileIdentity(layer: layer, ordinal: ordinal, path: path, size: header.size, metadata: metadata)
            occupant[path] = .file(identity)
            guard !isHidden(path, position: position, isDirectory: false) else { return }
            try ensureParents(of: path, entry: entry, position: position)
            if let later = lastHardLinkTo[path], later > position { identity.linkCount = 2 }
            let key = String(decoding: path, as: UTF8.self)
            let capture = RootfsListing.capturedFiles.contains(key) && header.size <= Self.capturedLimit
            var bytes: [UInt8] = []
            if let writer {
                identity.inode = try writer.addFile(path, size: header.size, metadata: metadata, linkCount: identity.linkCount) {
                    body throws(RunxlError) in
                    try stream.readData { offset, data throws(RunxlError) in
                        try body.append(offset: offset, data)
                        if capture { Self.place(data, at: offset, in: &bytes) }
                    }
                }
            } else if capture {
                try stream.readData { offset, data in Self.place(data, at: offset, in: &bytes) }
            }
            if capture {
                if bytes.count < Int(header.size) { bytes += [UInt8](repeating: 0, count: Int(header.size) - bytes.count) }
                captured[key] = bytes
            }
            record(path, .regular, metadata)
        case .symlink, .characterDevice, .blockDevice, .fifo:
            guard header.kind != .symlink || !(header.symlinkTarget ?? []).isEmpty else {
                throw RunxlError(.invalidImage, "layer entry \(entry): a symlink without a target")
            }
            let metadata = try Self.metadata(header, entry: entry)
            occupant[path] = .other(header, metadata)
            guard !isHidden(path, position: position, isDirectory: false) else { return }
            try ensureParents(of: path, entry: entry, position: position)
            try writeNonRegular(path, header, metadata: metadata)
        case .socket, nil:
            return  // tar cannot carry a socket's meaning; unknown types have no defined content
        }
    }

    private func writeDirectory(_ path: [UInt8], header: ArchiveEntryHeader, entry: String, position: Int) throws(RunxlError) {
        var metadata = try Self.metadata(header, entry: entry)
        if let last = lastDirectory[path], last.position > position { metadata = last.metadata }
        if let existing = emitted[path], existing.node.kind == .directory, existing.metadata == metadata { return }
        if !path.isEmpty { try ensureParents(of: path, entry: entry, position: position) }
        try writer?.addEntry(path, kind: .directory, metadata: metadata)
        record(path, .directory, metadata)
    }

    private func writeNonRegular(_ path: [UInt8], _ header: ArchiveEntryHeader, metadata: EntryMetadata) throws(RunxlError) {
        guard let kind = header.kind else { return }
        var metadata = metadata
        if kind == .symlink { metadata.permissions = 0o777 }  // what lstat reports on Linux
        try writer?.addEntry(
            path, kind: kind, metadata: metadata, symlinkTarget: header.symlinkTarget,
            device: kind == .characterDevice || kind == .blockDevice ? (header.deviceMajor, header.deviceMinor) : nil)
        record(path, kind, metadata, symlinkTarget: header.symlinkTarget)
    }

    /// The directories above `path`, written when nothing has made them yet: the root entry
    /// first, then implicit parents (0755 as the unpacker makes them, unless a later layer
    /// declares the directory, whose metadata then wins).
    private func ensureParents(of path: [UInt8], entry: String, position: Int) throws(RunxlError) {
        var ancestors: [[UInt8]] = [[]]
        for index in path.indices where path[index] == Self.slash { ancestors.append(Array(path[..<index])) }
        for ancestor in ancestors {
            if let existing = emitted[ancestor] {
                guard existing.node.kind == .directory else {
                    let shown = String(decoding: ancestor, as: UTF8.self)
                    if existing.node.kind == .symlink {
                        throw RunxlError(.unsafeLayerEntry, "layer entry \(entry) lies below the symlink \(shown)")
                    }
                    throw RunxlError(.invalidImage, "layer entry \(entry) lies below \(shown), which is not a directory")
                }
                continue
            }
            var metadata = Self.defaultDirectory
            if let last = lastDirectory[ancestor], last.position > position { metadata = last.metadata }
            try writer?.addEntry(ancestor, kind: .directory, metadata: metadata)
            record(ancestor, .directory, metadata)
        }
    }

    private func record(_ path: [UInt8], _ kind: ArchiveEntryKind, _ metadata: EntryMetadata, symlinkTarget: [UInt8]? = nil) {
        emitted[path] = Emitted(
            node: RootfsListing.Node(
                kind: kind, permissions: metadata.permissions,
                symlinkTarget: symlinkTarget.map { String(decoding: $0, as: UTF8.self) }),
            metadata: metadata)
    }

    /// Hard links whose target went out before its links were known: the target's data is read
    /// again from its layer and the whole group written with a shared inode.
    private func writeDeferredLinks() throws(RunxlError) {
        guard let writer, !deferred.isEmpty else { return }
        let byLayer = Dictionary(grouping: deferred, by: \.layer)
        for layer in byLayer.keys.sorted() {
            var wanted = Dictionary(uniqueKeysWithValues: (byLayer[layer] ?? []).map { ($0.ordinal, $0) })
            let stream = try openLayer(layer, checked: true)
            var ordinal = 0
            while !wanted.isEmpty, let header = try stream.nextHeader() {
                ordinal += 1
                guard let identity = wanted.removeValue(forKey: ordinal) else { continue }
                guard header.size == identity.size, header.hardlinkTarget == nil, header.kind == .regular else {
                    throw RunxlError(.invalidImage, "layer \(layers[layer]) changed while it was read: entry \(ordinal) differs")
                }
                let names = (identity.inode == nil ? [] : [identity.path]) + identity.pendingNames
                let linkCount = UInt32(clamping: names.count)
                let inode = try writer.addFile(names[0], size: identity.size, metadata: identity.metadata, linkCount: linkCount) {
                    body throws(RunxlError) in
                    try stream.readData { offset, data throws(RunxlError) in try body.append(offset: offset, data) }
                }
                for name in names.dropFirst() {
                    try writer.addHardLink(name, inode: inode, metadata: identity.metadata, linkCount: linkCount)
                }
            }
            guard wanted.isEmpty else {
                throw RunxlError(.invalidImage, "layer \(layers[layer]) changed while it was read: it ended early")
            }
            // The data just copied must be the data the second pass checked: reading on to the
            // end costs the rest of the layer's inflation, once per layer with such links.
            try verify(stream, layer: layer)
        }
    }

    // MARK: - Helpers

    /// `checked`: the stream is hashed for `verify` (when there are diff_ids).
    private func openLayer(_ index: Int, checked: Bool) throws(RunxlError) -> ArchiveEntryStream {
        try ArchiveEntryStream(tarAt: layers[index], uncompressedDigester: checked && diffIDs != nil ? makeDigester() : nil)
    }

    /// Reads the rest of a `checked` stream and compares it with the layer's diff_id.
    private func verify(_ stream: ArchiveEntryStream, layer: Int) throws(RunxlError) {
        guard let diffIDs else { return }
        do {
            try stream.verifyUncompressedDigest(diffID: diffIDs[layer])
        } catch {
            throw RunxlError(error.code, "layer \(layers[layer]): \(error.message)", cause: error.cause)
        }
    }

    private static func place(_ data: UnsafeRawBufferPointer, at offset: Int64, in bytes: inout [UInt8]) {
        let start = Int(offset)
        if bytes.count < start { bytes += [UInt8](repeating: 0, count: start - bytes.count) }
        bytes.replaceSubrange(start..<min(bytes.count, start + data.count), with: data)
    }

    static let runxlDirectory = Array(".runxl".utf8)

    /// `LayerEntryPath`'s reading of a stored path (the unpacker's), joined by `/`; `[]` is the
    /// root. Within the path length and depth limits.
    func normalize(_ stored: [UInt8], entry: String, what: String) throws(RunxlError) -> [UInt8] {
        try limits.checkPathLength(stored.count, entry: entry, what: what)
        let components = try LayerEntryPath.components(of: stored, entry: entry, what: what)
        try limits.checkPathDepth(components.count, entry: entry, what: what)
        return Array(components.joined(separator: [Self.slash]))
    }

    private func checkEntryCount(_ ordinal: Int, layer: Int, entry: String) throws(RunxlError) {
        guard ordinal <= limits.maxEntries else {
            throw RunxlError(
                .layerLimitExceeded, "layer \(layers[layer]) has more than \(limits.maxEntries) entries (stopped at \(entry))")
        }
    }

    /// Counted before the file is written: the archive never holds more than the limit allows.
    private func countFileBytes(_ size: Int64, layerBytes: inout Int64, layer: Int, entry: String) throws(RunxlError) {
        let limit = limits.maxBytesWritten
        guard size <= limit - layerBytes else {
            throw RunxlError(.layerLimitExceeded, "layer \(layers[layer]) writes more than \(limit) bytes (stopped at \(entry))")
        }
        guard size <= limit - totalFileBytes else {
            throw RunxlError(
                .layerLimitExceeded, "the image's layers write more than \(limit) bytes in all (stopped at \(entry) of \(layers[layer]))")
        }
        layerBytes += size
        totalFileBytes += size
    }

    static func lastComponent(_ path: [UInt8]) -> ArraySlice<UInt8> {
        guard let index = path.lastIndex(of: slash) else { return path[...] }
        return path[(index + 1)...]
    }

    static func firstComponent(_ path: [UInt8]) -> ArraySlice<UInt8> {
        guard let index = path.firstIndex(of: slash) else { return path[...] }
        return path[..<index]
    }

    static func parent(_ path: [UInt8]) -> [UInt8] {
        guard let index = path.lastIndex(of: slash) else { return [] }
        return Array(path[..<index])
    }

    static func metadata(_ header: ArchiveEntryHeader, entry: String) throws(RunxlError) -> EntryMetadata {
        guard let uid = UInt32(exactly: header.uid), let gid = UInt32(exactly: header.gid), uid != .max, gid != .max else {
            throw RunxlError(.invalidImage, "layer entry \(entry): owner \(header.uid):\(header.gid) is out of range")
        }
        return EntryMetadata(permissions: header.permissions, uid: uid, gid: gid, modificationTime: header.modificationTime)
    }
}
