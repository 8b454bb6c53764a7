import GuestBuild
import ImageStore
import OCI
import Registry
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl launch IMAGE`: when the argument names no directory, it is an image in the store,
/// run from the store's snapshot of its layers, read in place (nothing is written for it).
enum ImageLaunch {
    /// The image's spec, root.path the snapshot; nil when `argument` is not an image reference
    /// at all (a mistyped path, say). `args` are `launch`'s own (after `--`): they take the place
    /// of the image's Cmd, after its Entrypoint, as `docker run IMAGE ARGS` does, so an image
    /// without a Cmd can be launched.
    static func spec(for argument: String, args: [String], global: GlobalOptions) throws(RunxlError) -> Spec? {
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
        var spec = try ImageBundle.readOnly(image, store: store, args: args)
        // A unikernel image says so in its manifest and config, which a spec does not carry.
        let manifest = try store.manifest(of: image)
        let hints = UnikernelImageHints.annotations(manifest: manifest, config: try store.config(of: image, manifest: manifest))
        if !hints.isEmpty { spec.annotations = hints.merging(spec.annotations ?? [:]) { _, image in image } }
        return spec
    }
}
