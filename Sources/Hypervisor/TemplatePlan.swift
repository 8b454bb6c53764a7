/// A VM template for a guest (GuestProtocol's `GuestTemplate`): the domain booted once and
/// saved, and where the saved image lives. Guests whose kernel, initramfs, command line, memory and vCPUs are the
/// same share one; the preparer names the image after all of them, so a change to any makes a
/// new template rather than restoring a stale one.
public struct TemplatePlan: Sendable, Equatable {
    /// The template's own domain: the guest's kernel, initramfs, memory and vCPUs, its command
    /// line with `GuestTemplate.commandLineFlag`, and no devices (each restore brings its own).
    public var domain: DomainSpec
    /// The saved image, made by the first create that needs it.
    public var imagePath: String

    public init(domain: DomainSpec, imagePath: String) {
        self.domain = domain
        self.imagePath = imagePath
    }
}
