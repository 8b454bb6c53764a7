import GuestProtocol
public import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("getrandom") private func c_getrandom(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ flags: UInt32) -> Int

/// Starts guests from VM templates (`GuestTemplate`, docs/fast-start.md): the first create
/// that needs a template boots it, waits for init's `templateReady` and saves it; each create
/// then restores the saved image with its own devices and tells init to go on.
///
/// A template is an optimisation, never a requirement: when one cannot be made or restored the
/// caller boots the guest as it would without templates, and the reason goes to `warn`.
public struct GuestTemplates: Sendable {
    public let hypervisor: any Hypervisor
    /// How long a template's guest may take to boot to init's ready report.
    public var bootTimeoutSeconds = 120.0
    /// Where the reasons for falling back to a boot go.
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(hypervisor: any Hypervisor) {
        self.hypervisor = hypervisor
    }

    /// `spec`'s domain restored from `template` and paused, with its resume message written;
    /// nil when the template cannot serve (the caller boots `spec` instead). On nil nothing of
    /// the restore is left; a saved image that fails to restore is removed, so the next create
    /// makes a new one.
    public func restore(_ spec: DomainSpec, from template: TemplatePlan) throws(RunxlError) -> DomainID? {
        do {
            guard try ensureImage(template) else { return nil }
        } catch {
            warn("no VM template for domain '\(spec.name)', booting it instead: \(error)")
            return nil
        }
        let domain: DomainID
        do {
            domain = try hypervisor.restoreDomain(spec, from: template.imagePath, paused: true)
        } catch {
            warn("the VM template \(template.imagePath) did not restore, booting domain '\(spec.name)' instead (the template is removed): \(error)")
            unlink(template.imagePath)
            return nil
        }
        do {
            try GuestLink(hypervisor, domain: domain).send(.resumeFromTemplate(seed: try Self.seed()))
        } catch {
            try? hypervisor.destroy(domain)
            throw error
        }
        return domain
    }

    /// Makes the saved image when it is missing. False, without waiting, while another runxl
    /// process is making it: that create boots its guest rather than wait a boot and a save.
    /// A template that failed to build once is not tried again (every create would pay a boot
    /// for it): its `.failed` file says why, and removing it retries.
    private func ensureImage(_ template: TemplatePlan) throws(RunxlError) -> Bool {
        if FileSystem.exists(template.imagePath) { return true }
        let failure = template.imagePath + ".failed"
        if let reason = try? FileSystem.read(failure) {
            throw RunxlError(
                .guestBootFailed,
                "building this VM template failed before (remove \(failure) to try again): \(String(decoding: reason, as: UTF8.self))")
        }
        let directory = String(template.imagePath[..<(template.imagePath.lastIndex(of: "/") ?? template.imagePath.startIndex)])
        try FileSystem.makeDirectories(directory, mode: 0o700)
        let lock: FileLock
        do {
            lock = try FileLock(path: template.imagePath + ".lock", timeoutSeconds: 0)
        } catch where error.code == .lockTimeout {
            return false
        }
        defer { lock.unlock() }
        if FileSystem.exists(template.imagePath) { return true }
        // Named as `gc` knows a temporary file whose writer died.
        let partial = "\(template.imagePath).\(getpid())\(FileSystem.temporarySuffix)"
        do throws(RunxlError) {
            let domain = try hypervisor.createDomain(template.domain, paused: false)
            do throws(RunxlError) {
                try Self.waitUntilReady(
                    hypervisor, domain: domain, name: template.domain.name, timeoutSeconds: bootTimeoutSeconds, what: "template guest")
                try hypervisor.saveDomain(domain, to: partial)
            } catch {
                try? hypervisor.destroy(domain)
                unlink(partial)
                throw error
            }
        } catch {
            // Only the guest's own failures are remembered; a busy host or a lost domain is not
            // the template's fault.
            if error.code == .guestBootFailed || error.code == .timeout {
                try? FileSystem.writeAtomically(failure, Array("\(error)\n".utf8))
            }
            throw error
        }
        guard rename(partial, template.imagePath) == 0 else {
            let err = errno
            unlink(partial)
            throw RunxlError(.io, "cannot move the saved template to \(template.imagePath)", cause: SystemCallError("rename", errno: err))
        }
        return true
    }

    /// Waits for init's `templateReady` in a template or a warm VM (`WarmPool`), or for the guest
    /// to end without it (an init that does not know the flag runs on as a container guest with
    /// no container, and powers off).
    static func waitUntilReady(
        _ hypervisor: any Hypervisor, domain: DomainID, name: String, timeoutSeconds: Double, what: String
    ) throws(RunxlError) {
        let link = try GuestLink(hypervisor, domain: domain)
        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        let console = "see /var/log/xen/console/guest-\(name).log"
        while Clock.monotonicSeconds() < deadline {
            if try link.waitFor(.template, timeoutSeconds: 1) != nil { return }
            guard let info = try hypervisor.domainInfo(domain), info.state != .shutdown, info.state != .dying else {
                throw RunxlError(.guestBootFailed, "the \(what) '\(name)' ended before it was ready; \(console)")
            }
        }
        throw RunxlError(.timeout, "the \(what) '\(name)' was not ready within \(Int(timeoutSeconds)) s; \(console)")
    }

    /// Fresh bytes from the host kernel's CRNG for the restored guest's.
    static func seed() throws(RunxlError) -> [UInt8] {
        try randomBytes(GuestTemplate.seedBytes, purpose: "a restored guest")
    }

    /// `count` bytes from the host kernel's CRNG (a resumed guest's seed, a warm VM's name).
    static func randomBytes(_ count: Int, purpose: String) throws(RunxlError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard bytes.withUnsafeMutableBytes({ c_getrandom($0.baseAddress, $0.count, 0) }) == count else {
            let err = errno
            throw RunxlError(.io, "cannot read random bytes for \(purpose)", cause: SystemCallError("getrandom", errno: err))
        }
        return bytes
    }
}
