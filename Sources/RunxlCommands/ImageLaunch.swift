import GuestBuild
import ImageStore
import OCI
import Registry
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl launch IMAGE`: when the argument names no directory, it is an image in the store,
/// unpacked into launch's temporary bundle (which launch removes when the guest is gone).
enum ImageLaunch {
    /// nil when `argument` is not an image reference at all (a mistyped path, say).
    /// `args` are `launch`'s own (after `--`): they take the place of the image's Cmd, after its
    /// Entrypoint, as `docker run IMAGE ARGS` does, so an image without a Cmd can be launched.
    static func bundle(for argument: String, args: [String], global: GlobalOptions) throws(RunxlError) -> (directory: String, spec: Spec)? {
        guard !argument.hasPrefix("/"), !argument.hasPrefix("."), (try? ImageReference(parsing: argument)) != nil
            || ImageReference.isDigest(argument)
        else { return nil }
        let store = try ContentStore(root: global.store ?? ContentStore.defaultRoot)
        let image: StoredImage
        do {
            image = try store.image(argument)
        } catch {
            throw RunxlError(
                error.code, "\(argument) is neither a bundle, a rootfs directory nor an image in \(store.root) (see runxl image ls)")
        }
        var template = Array("/tmp/runxl-launch-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            let err = errno
            throw RunxlError(.io, "cannot create a temporary bundle", cause: SystemCallError("mkdtemp", errno: err))
        }
        let directory = String(cString: made)
        do {
            // Hard links to the store's snapshot: launch only reads this rootfs (into an initramfs)
            // and removes it with the bundle.
            var spec = try ImageBundle.create(image, store: store, at: directory, args: args, sharing: .hardLinks)
            // A unikernel image says so in its manifest and config, which a bundle does not carry.
            let manifest = try store.manifest(of: image)
            let hints = UnikernelImageHints.annotations(manifest: manifest, config: try store.config(of: image, manifest: manifest))
            if !hints.isEmpty { spec.annotations = hints.merging(spec.annotations ?? [:]) { _, bundle in bundle } }
            return (directory, spec)
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
    }
}
