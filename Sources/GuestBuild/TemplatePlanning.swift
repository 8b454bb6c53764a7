import GuestProtocol
import Hypervisor
import OCI
import RunxlBase

extension GuestBuilder {
    /// Where saved VM templates live, under the cache directory.
    public static let templatesDirectoryName = "templates"

    /// The VM template a share-mode PVH guest can be restored from, when templates are on for it
    /// (annotation `org.runxl.template`, then the host config's `templates`; off by default).
    ///
    /// The template is the guest minus its container: the same kernel, initramfs (init and
    /// modules only, the same file for every container of that shape), command line, memory and
    /// vCPUs, with no devices. Its image is named after a hash of all of those and of the kernel's
    /// and initramfs's identities (a cached file's content-named path, another file's inode and
    /// times), so a new kernel, a new runxl-init or a changed setting never restores an old
    /// template.
    func templatePlan(for domain: DomainSpec, spec: Spec) throws(RunxlError) -> TemplatePlan? {
        guard try Self.templatesWanted(spec: spec, host: options.host), let ramdisk = domain.ramdisk else { return nil }
        // A template is saved at its boot size; a VM that may grow (a pod's) needs its ceiling
        // fixed at its own create, which a restore would not give it.
        guard domain.maxMemoryMiB == nil, domain.maxVcpus == nil else { return nil }
        guard domain.type == .pvh else {
            // The lab: a PV guest restored from a saved image gets some of its 9pfs shares and
            // not others, by where Xen put its memory (QEMU's back end cannot map the data
            // ring's grants); `xl restore` fails the same way. PVH guests' frame numbers are
            // their own. A host-wide setting leaves PV guests booting; asking for it is an error.
            guard spec.annotations?[RunxlAnnotations.template] != "true" else {
                throw RunxlError(
                    .unsupported,
                    "annotation \(RunxlAnnotations.template)=true needs a PVH guest (annotation \(RunxlAnnotations.guestType)=pvh): "
                        + "a PV guest restored from a saved image does not get all of its 9pfs shares connected "
                        + "(docs/fast-start.md); remove the annotation to boot it")
            }
            return nil
        }
        var hasher = SHA256()
        hasher.update("runxl VM template 1\0\(domain.type.rawValue)\0\(domain.cmdline)\0\(domain.memoryMiB)\0\(domain.vcpus)\0")
        hasher.update(try bootFilesIdentity(kernel: domain.kernel, ramdisk: ramdisk))
        let key = String(hasher.finalizeHex().prefix(32))
        let template = DomainSpec(
            name: "\(GuestTemplate.domainNamePrefix)\(key.prefix(16))", type: domain.type, kernel: domain.kernel, ramdisk: ramdisk,
            cmdline: domain.cmdline + " " + GuestTemplate.commandLineFlag, memoryMiB: domain.memoryMiB, vcpus: domain.vcpus)
        let directory = options.resolvedCacheDirectory + "/" + Self.templatesDirectoryName
        return TemplatePlan(domain: template, imagePath: "\(directory)/template-\(key).xen-save")
    }

    /// What names a guest's kernel and initramfs for as long as their content stays: a VM booted
    /// from them (a template, a warm VM) serves a guest with the same identity only. The caches
    /// name their files after their content (and touch them on each use), so such a path is the
    /// identity; any other file is known by its inode and times.
    func bootFilesIdentity(kernel: String, ramdisk: String) throws(RunxlError) -> String {
        var hasher = SHA256()
        let cache = options.resolvedCacheDirectory + "/"
        for (path, role) in [(kernel, "guest kernel"), (ramdisk, "initramfs")] {
            if path.hasPrefix(cache) {
                hasher.update("cached\0\(path)\0")
            } else {
                _ = try InitramfsBuilder.hashFileIdentity(path, role: role, into: &hasher)
            }
        }
        return hasher.finalizeHex()
    }

    static func templatesWanted(spec: Spec, host: HostConfig) throws(RunxlError) -> Bool {
        guard let text = spec.annotations?[RunxlAnnotations.template] else { return host.templates ?? false }
        switch text {
        case "true": return true
        case "false": return false
        default:
            throw RunxlError(.invalidAnnotation, "annotation \(RunxlAnnotations.template) is '\(text)'; use true or false")
        }
    }
}
