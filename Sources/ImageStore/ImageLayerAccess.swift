public import OCI
import Registry
public import RunxlBase

/// What readers that stream an image's layers (the initramfs of `image convert`) need from the
/// store, instead of an unpacked rootfs.
extension ContentStore {
    /// What checks layers' diff_ids, in the unpacker and in readers that stream layers:
    /// libcrypto's SHA-256 when it loads (about 1.7 GB/s here), else the portable one.
    public static let makeLayerDigester: StreamDigesterFactory = { Digester() }

    /// The image's layer blobs, bottom first, each checked to be in the store. Callers hold an
    /// operation (`beginOperation`) while they read, so that garbage collection waits.
    public func layerPaths(of image: StoredImage, manifest: Manifest) throws(RunxlError) -> [String] {
        var paths: [String] = []
        for layer in manifest.layers {
            let path = try blobPath(layer.digest)
            guard FileSystem.exists(path) else {
                throw RunxlError(
                    .imageNotFound, "layer \(layer.digest) of \(image.name) is missing from \(root): pull or import the image again")
            }
            paths.append(path)
        }
        return paths
    }
}

/// The bytes of an image rootfs's `/etc/passwd` and `/etc/group` (nil when absent), which
/// resolve the image's `User` (see `ImageBundle.spec(for:image:rootfsPath:args:terminal:users:)`).
public struct ImageUserDatabases: Sendable, Equatable {
    public var passwd: [UInt8]?
    public var group: [UInt8]?

    public init(passwd: [UInt8]?, group: [UInt8]?) {
        self.passwd = passwd
        self.group = group
    }
}
