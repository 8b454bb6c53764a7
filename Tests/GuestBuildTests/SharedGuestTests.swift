import Archive
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import RunxlBase
import Testing
import TestSupport

@testable import GuestBuild

private func shareSpec(_ mounts: [OCI.Mount] = [], annotations: [String: String]? = nil) -> Spec {
    var spec = Spec(ociVersion: "1.2.0")
    spec.process = OCI.Process(args: ["sh", "-c", "true"], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/")
    spec.root = Root(path: "rootfs")
    spec.mounts = mounts
    spec.annotations = annotations
    return spec
}

/// Share mode's guest, without Xen: what the domain, the host mounts, the process file and the
/// initramfs hold (the lab proves the guest boots from them: Tests/lab/shares-in-dom0.sh).
@Suite struct SharedGuestTests {
    private func builder(_ scratch: ScratchDirectory) throws -> GuestBuilder {
        try scratch.file("init-binary", "#!/bin/sh\n# runxl-init stand-in\n", mode: 0o755)
        return GuestBuilder(options: GuestBuildOptions(initBinary: scratch.path + "/init-binary", cacheDirectory: scratch.path + "/cache"))
    }

    @Test func sharesTheRootfsAndEveryBindSourceInMountOrder() throws {
        let scratch = try ScratchDirectory("shares")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        try scratch.file("volume/data", "x\n")
        try scratch.file("hosts", "127.0.0.1 localhost\n")
        try scratch.directory("shm")
        let spec = shareSpec([
            OCI.Mount(destination: "/proc", type: "proc", source: "proc"),
            OCI.Mount(destination: "/data", type: "bind", source: scratch.path + "/volume", options: ["rbind", "rw"]),
            OCI.Mount(destination: "/dev/shm", type: "bind", source: scratch.path + "/shm", options: ["bind"]),
            OCI.Mount(destination: "/etc/hosts", type: "bind", source: scratch.path + "/hosts", options: ["bind", "ro"]),
        ])
        let state = scratch.path + "/state"
        let guest = try builder(scratch).buildShared(spec: spec, rootfs: rootfs, domainName: "runxl-t", stateDirectory: state)
        let layout = ShareLayout(stateDirectory: state)
        #expect(guest.domain.shares == [
            ShareSpec(tag: GuestShares.rootTag, path: layout.root), ShareSpec(tag: GuestShares.controlTag, path: layout.control),
        ])
        let resolved = { (path: String) in URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        let volume = resolved(scratch.path + "/volume")
        let hosts = resolved(scratch.path + "/hosts")
        #expect(guest.hostMounts == [
            HostMount(source: rootfs, target: layout.root, readOnly: false, recursive: true),
            HostMount(source: volume, target: layout.bind(0, hostSource: volume), readOnly: false, recursive: true),
            HostMount(source: hosts, target: layout.bind(1, hostSource: hosts), readOnly: true, recursive: false),
        ])
        // Each entry keeps its source's name (the guest's mount table shows a bind's root as
        // `/binds/N/NAME`, as runtime-tools' mounts validation matches it).
        #expect(layout.bind(1, hostSource: hosts) == layout.control + "/binds/1/hosts")
        // The guest mounts each from the control share, in the spec's place; /dev/shm stays the guest's.
        #expect(guest.process.mounts.map(\.destination) == ["/proc", "/data", "/etc/hosts"])
        #expect(guest.process.mounts[1] == ProcessDescription.Mount(
            destination: "/data", type: "bind", source: GuestShares.bindSource(0, hostSource: volume), options: ["rbind", "rw"]))
        #expect(guest.process.mounts[2].source == GuestShares.controlMountPoint + "/binds/1/hosts")
        // Mount points of the right kind, and the process file, in the control share.
        #expect(FileSystem.isDirectory(layout.bind(0, hostSource: volume)))
        #expect(FileSystem.exists(layout.bind(1, hostSource: hosts)) && !FileSystem.isDirectory(layout.bind(1, hostSource: hosts)))
        let processFile = try FileSystem.read(layout.control + "/" + GuestShares.processFileName)
        #expect(try ProcessDescription.decode(processFile) == guest.process)
        // Nothing of the image is copied: the initramfs holds init and no process file.
        let entries = try ArchiveReader.entries(inArchiveAt: try #require(guest.initramfs?.path), dataLimit: 1 << 16)
        #expect(entries.contains { $0.path == ".runxl/init" })
        #expect(!entries.contains { $0.path == ".runxl/process" })
        #expect(!entries.contains { $0.path.hasPrefix("bin/") })
        #expect(guest.domain.memoryMiB == GuestDefaults().memoryMiB)
    }

    @Test func aBindEntryIsNamedAfterItsSource() {
        #expect(GuestShares.bindEntry(3, hostSource: "/etc") == "binds/3/etc")
        #expect(GuestShares.bindEntry(0, hostSource: "/var/lib/vol/_data/") == "binds/0/_data")
        #expect(GuestShares.bindEntry(1, hostSource: "/") == "binds/1/source")
        #expect(GuestShares.bindEntry(2, hostSource: "/a/..") == "binds/2/source")
    }

    @Test func oneCachedInitramfsWhateverTheImage() throws {
        let scratch = try ScratchDirectory("shares")
        let small = try makeBusyboxRootfs(in: scratch, at: "small")
        let large = try makeBusyboxRootfs(in: scratch, at: "large")
        try scratch.file("large/usr/share/big", String(repeating: "x", count: 1 << 20))
        let builder = try builder(scratch)
        let first = try builder.buildShared(spec: shareSpec(), rootfs: small, domainName: "a", stateDirectory: scratch.path + "/a")
        let second = try builder.buildShared(spec: shareSpec(), rootfs: large, domainName: "b", stateDirectory: scratch.path + "/b")
        #expect(first.initramfs?.key == second.initramfs?.key)
        #expect(second.initramfs?.cacheHit == true)
        #expect(second.domain.memoryMiB == first.domain.memoryMiB)
        // The cache touches the file it hands out; its identity, which a warm VM must match,
        // stays (the lab's first run keyed on the file's times and never matched).
        #expect(first.bootIdentity != nil)
        #expect(first.bootIdentity == second.bootIdentity)
    }

    @Test func modeComesFromTheAnnotationThenTheHostConfig() throws {
        #expect(try RootfsMode.resolve(spec: shareSpec(), host: HostConfig()) == .share)
        #expect(try RootfsMode.resolve(spec: shareSpec(), host: HostConfig(rootfs: .initramfs)) == .initramfs)
        let annotated = shareSpec(annotations: [RunxlAnnotations.rootfs: "share"])
        #expect(try RootfsMode.resolve(spec: annotated, host: HostConfig(rootfs: .initramfs)) == .share)
        do throws(RunxlError) {
            _ = try RootfsMode.resolve(spec: shareSpec(annotations: [RunxlAnnotations.rootfs: "copy"]), host: HostConfig())
            Issue.record("an unknown mode was accepted")
        } catch {
            #expect(error.code == .invalidAnnotation)
            #expect(error.message.contains("share, initramfs"))
        }
        let config = try JSONDocument.decode(HostConfig.self, from: Array(#"{"rootfs": "initramfs"}"#.utf8), documentName: "c", code: .invalidConfig)
        #expect(config.rootfs == .initramfs)
    }

    @Test func aBindSourceThatCannotBeSharedFailsBeforeAnythingIsWritten() throws {
        let scratch = try ScratchDirectory("shares")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        let state = scratch.path + "/state"
        let builder = try builder(scratch)
        do throws(RunxlError) {
            _ = try builder.buildShared(
                spec: shareSpec([OCI.Mount(destination: "/data", type: "bind", source: scratch.path + "/missing", options: ["rbind"])]),
                rootfs: rootfs, domainName: "t", stateDirectory: state)
            Issue.record("a missing bind source was accepted")
        } catch {
            #expect(error.code == .invalidConfig)
            #expect(error.message.contains("mounts[0] (/data)"))
        }
        #expect(!FileSystem.exists(state + "/share"))
    }

    @Test func xlConfigCarriesTheShares() throws {
        var domain = DomainSpec(name: "runxl-t", type: .pv, kernel: "/k")
        domain.shares = [ShareSpec(tag: GuestShares.rootTag, path: "/run/runxl/t/share/root")]
        let text = try XlConfig.render(domain)
        #expect(text.contains(#"p9 = [ "tag=runxl-root,security_model=none,path=/run/runxl/t/share/root" ]"#))
        domain.shares = [ShareSpec(tag: "t", path: "/a,b")]
        #expect(throws: RunxlError.self) { try XlConfig.render(domain) }
    }
}

/// The VM template a share-mode guest is restored from (GuestTemplates in Runtime; the lab
/// restores one): when it is planned, what it is, and what its image is named after.
@Suite struct TemplatePlanningTests {
    private func build(_ scratch: ScratchDirectory, _ annotations: [String: String]?, host: HostConfig = HostConfig(), name: String = "runxl-t") throws -> BuiltGuest {
        // Written once: a new init binary is a new initramfs, and so a new template.
        if !FileSystem.exists(scratch.path + "/init-binary") {
            try scratch.file("init-binary", "#!/bin/sh\n# runxl-init stand-in\n", mode: 0o755)
        }
        let rootfs = FileSystem.isDirectory(scratch.path + "/rootfs") ? scratch.path + "/rootfs" : try makeBusyboxRootfs(in: scratch)
        let builder = GuestBuilder(options: GuestBuildOptions(initBinary: scratch.path + "/init-binary", host: host, cacheDirectory: scratch.path + "/cache"))
        return try builder.buildShared(spec: shareSpec(annotations: annotations), rootfs: rootfs, domainName: name, stateDirectory: scratch.path + "/state-" + name)
    }

    private let pvh = [RunxlAnnotations.guestType: "pvh"]

    @Test func offUnlessTheAnnotationOrTheHostConfigTurnsItOn() throws {
        let scratch = try ScratchDirectory("template-off")
        #expect(try build(scratch, pvh).template == nil)
        #expect(try build(scratch, pvh.merging([RunxlAnnotations.template: "false"]) { $1 }, host: HostConfig(templates: true)).template == nil)
        #expect(try build(scratch, pvh, host: HostConfig(templates: true)).template != nil)
        #expect(try build(scratch, pvh.merging([RunxlAnnotations.template: "true"]) { $1 }).template != nil)
        #expect(throws: RunxlError.self) { try build(scratch, pvh.merging([RunxlAnnotations.template: "yes"]) { $1 }) }
    }

    /// PV guests lose 9pfs shares across a restore in the lab: the host-wide setting leaves them
    /// booting, and asking for a template on one says why it cannot be.
    @Test func aPVGuestIsNeverRestored() throws {
        let scratch = try ScratchDirectory("template-pv")
        #expect(try build(scratch, nil, host: HostConfig(templates: true)).template == nil)
        do {
            _ = try build(scratch, [RunxlAnnotations.template: "true"])
            Issue.record("a PV guest got a template")
        } catch let error as RunxlError {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("org.runxl.guest.type=pvh"))
        }
    }

    @Test func theTemplateIsTheGuestWithoutItsContainer() throws {
        let scratch = try ScratchDirectory("template-plan")
        let guest = try build(scratch, pvh.merging([RunxlAnnotations.template: "true"]) { $1 })
        let template = try #require(guest.template)
        #expect(template.domain.name.hasPrefix(GuestTemplate.domainNamePrefix))
        #expect(template.domain.kernel == guest.domain.kernel)
        #expect(template.domain.ramdisk == guest.domain.ramdisk)
        #expect(template.domain.memoryMiB == guest.domain.memoryMiB)
        #expect(template.domain.vcpus == guest.domain.vcpus)
        #expect(template.domain.type == guest.domain.type)
        #expect(template.domain.cmdline == guest.domain.cmdline + " " + GuestTemplate.commandLineFlag)
        #expect(GuestTemplate.isTemplate(commandLine: template.domain.cmdline))
        #expect(!GuestTemplate.isTemplate(commandLine: guest.domain.cmdline))
        // No devices: each restore brings the container's own shares and vifs.
        #expect(template.domain.shares.isEmpty && template.domain.vifs.isEmpty && template.domain.disks.isEmpty)
        #expect(!guest.domain.shares.isEmpty)
        #expect(template.imagePath.hasPrefix(scratch.path + "/cache/templates/template-"))
        #expect(template.imagePath.hasSuffix(".xen-save"))
    }

    /// Two containers of one shape share a template; a different memory size cannot.
    @Test func theImageIsNamedAfterWhatTheSavedGuestDependsOn() throws {
        let scratch = try ScratchDirectory("template-key")
        let on = pvh.merging([RunxlAnnotations.template: "true"]) { $1 }
        let first = try #require(try build(scratch, on, name: "runxl-a").template)
        let second = try #require(try build(scratch, on, name: "runxl-b").template)
        #expect(first == second)
        let bigger = try #require(try build(scratch, on.merging([RunxlAnnotations.memory: "512"]) { $1 }).template)
        #expect(bigger.imagePath != first.imagePath)
        #expect(bigger.domain.memoryMiB == 512)
        let traced = try #require(try build(scratch, on.merging([RunxlAnnotations.cmdlineExtra: "loglevel=7"]) { $1 }).template)
        #expect(traced.imagePath != first.imagePath)
    }
}

/// A pod's further container (docs/pods.md): its process and the binds dom0 makes for it under
/// `pod/ID` of the sandbox's control share. The lab runs it in a pod (Tests/lab/pods-in-dom0.sh).
@Suite struct PodMemberShareTests {
    @Test func theMembersRootfsAndBindsGoUnderItsDirectoryOfTheSandboxsControlShare() throws {
        let scratch = try ScratchDirectory("podmember")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        try scratch.file("hosts", "127.0.0.1 localhost\n")
        var spec = shareSpec([
            OCI.Mount(destination: "/proc", type: "proc", source: "proc"),
            OCI.Mount(destination: "/etc/hosts", type: "bind", source: scratch.path + "/hosts", options: ["bind", "ro"]),
        ])
        spec.hostname = "its-own"
        spec.linux = Linux(namespaces: [LinuxNamespace(type: .pid)])
        let sandbox = scratch.path + "/sandbox"
        let control = ShareLayout(stateDirectory: sandbox).control
        try FileSystem.makeDirectories(control, mode: 0o700)
        let member = try PodMemberShare(id: "web", spec: spec, rootfs: rootfs, sandboxState: sandbox)
        let hosts = URL(fileURLWithPath: scratch.path + "/hosts").resolvingSymlinksInPath().path
        #expect(member.directory == control + "/pod/web")
        #expect(member.hostMounts == [
            HostMount(source: rootfs, target: control + "/pod/web/root", readOnly: false, recursive: true),
            HostMount(source: hosts, target: control + "/pod/web/binds/0/hosts", readOnly: true, recursive: false),
        ])
        #expect(member.description.podMember == "web")
        #expect(member.description.mounts.map(\.source) == ["proc", GuestShares.controlMountPoint + "/pod/web/binds/0/hosts"])
        #expect(member.description.mounts[1].source.hasPrefix(GuestShares.podMemberBindsPrefix("web")))
        // The pod's uts namespace is its first container's; a new pid namespace is its own, as
        // under runc, and one given by path (a pod sharing its processes) is the pod's.
        #expect(member.description.hostname == nil)
        #expect(member.description.pidNamespace)
        var sharing = spec
        sharing.linux = Linux(namespaces: [LinuxNamespace(type: .pid, path: "/proc/42/ns/pid")])
        #expect(!(try PodMemberShare(id: "web", spec: sharing, rootfs: rootfs, sandboxState: sandbox)).description.pidNamespace)
        try member.createMountPoints()
        #expect(FileSystem.isDirectory(control + "/pod/web/root"))
        #expect(FileSystem.exists(control + "/pod/web/binds/0/hosts") && !FileSystem.isDirectory(control + "/pod/web/binds/0/hosts"))
        #expect(try ProcessDescription.decode(member.description.encoded()) == member.description)
    }

    /// A pod whose first container was built the initramfs way has no share to take a member.
    @Test func aSandboxWithoutSharesIsRefused() throws {
        let scratch = try ScratchDirectory("podmember-noshare")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        do {
            _ = try PodMemberShare(id: "web", spec: shareSpec(), rootfs: rootfs, sandboxState: scratch.path + "/sandbox")
            Issue.record("a sandbox without shares must refuse a member")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("no 9pfs shares"), "\(error.message)")
        }
        #expect(!FileSystem.exists(scratch.path + "/sandbox"))
    }

    @Test func aMemberNameMustBeOnePathComponent() throws {
        for bad in ["..", ".", "a/b", ""] {
            var description = ProcessDescription(args: ["true"])
            description.podMember = bad
            #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(description.encoded()) }
        }
        var both = ProcessDescription(args: ["true"], podMember: "a")
        both.joinPodMember = "a"
        #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(both.encoded()) }
    }
}
