import Archive
import Foundation
import GuestBuild
import GuestProtocol
import Hypervisor
import OCI
import RunxlBase
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for runxl-init: the builder only copies it.
private func fakeInit(_ scratch: ScratchDirectory) throws -> String {
    try scratch.file("init-binary", "#!/bin/sh\n# runxl-init stand-in\n", mode: 0o755)
    return scratch.path + "/init-binary"
}

private func spec(args: [String] = ["sh", "-c", "echo hi"], annotations: [String: String]? = nil, vm: VM? = nil) -> Spec {
    var spec = Spec(ociVersion: "1.2.0")
    spec.process = OCI.Process(args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/")
    spec.root = Root(path: "rootfs")
    spec.annotations = annotations
    spec.vm = vm
    return spec
}

@Suite struct InitramfsBuilderTests {
    @Test func busyboxInitramfsHasRootfsInitAndProcessWithoutWhiteouts() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        try scratch.file("rootfs/etc/.wh.motd", "")
        try scratch.file("rootfs/.runxl/init", "an image must not provide our init")
        let builder = InitramfsBuilder(cacheDirectory: scratch.path + "/cache")
        let process = Array(#"{"version":1}"#.utf8)
        let result = try builder.build(
            InitramfsRequest(rootfs: rootfs, initBinary: try fakeInit(scratch), processFile: process, compression: .gzip))
        #expect(!result.cacheHit)
        #expect(result.path.hasSuffix(".cpio.gz"))
        let entries = try ArchiveReader.entries(inArchiveAt: result.path, dataLimit: 4096)
        let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        #expect(byPath["bin/busybox"]?.permissions == 0o755)
        #expect(byPath["bin/sh"]?.symlinkTarget == "busybox")
        #expect(byPath[".runxl/init"]?.permissions == 0o755)
        #expect(byPath[".runxl/init"]?.data == Array("#!/bin/sh\n# runxl-init stand-in\n".utf8))
        #expect(byPath[".runxl/process"]?.data == process)
        #expect(byPath[".runxl/process"]?.permissions == 0o400)
        #expect(byPath["dev/console"]?.kind == .characterDevice)
        #expect(byPath["dev/console"]?.deviceMajor == 5)
        #expect(!entries.contains { $0.path.split(separator: "/").contains { $0.hasPrefix(".wh.") } })
        // The image's own /.runxl never goes in: only one .runxl/init entry, ours.
        #expect(entries.filter { $0.path == ".runxl/init" }.count == 1)
    }

    @Test func cacheHitsOnSecondBuildAndMissesWhenAFileChanges() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        let builder = InitramfsBuilder(cacheDirectory: scratch.path + "/cache")
        let request = InitramfsRequest(
            rootfs: rootfs, initBinary: try fakeInit(scratch), processFile: Array("p".utf8), compression: .lz4)
        let first = try builder.build(request)
        let second = try builder.build(request)
        #expect(!first.cacheHit)
        #expect(second.cacheHit)
        #expect(first.path == second.path)

        try scratch.file("rootfs/etc/hostname", "changed\n")
        let third = try builder.build(request)
        #expect(!third.cacheHit)
        #expect(third.key != first.key)

        var otherProcess = request
        otherProcess.processFile = Array("q".utf8)
        #expect(try !builder.build(otherProcess).cacheHit)
        var otherCompression = request
        otherCompression.compression = .zstd
        #expect(try !builder.build(otherCompression).cacheHit)
    }

    /// The key does not read link targets; a retargeted link must still miss (new inode, ctime).
    @Test func retargetedSymlinkOfTheSameLengthMissesTheCache() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        let builder = InitramfsBuilder(cacheDirectory: scratch.path + "/cache")
        let request = InitramfsRequest(
            rootfs: rootfs, initBinary: try fakeInit(scratch), processFile: Array("p".utf8), compression: .none)
        #expect(symlink("a", rootfs + "/link") == 0)
        let first = try builder.build(request)
        #expect(unlink(rootfs + "/link") == 0)
        #expect(symlink("b", rootfs + "/link") == 0)
        let second = try builder.build(request)
        #expect(!second.cacheHit)
        #expect(second.key != first.key)
        let entries = try ArchiveReader.entries(inArchiveAt: second.path)
        #expect(entries.first { $0.path == "link" }?.symlinkTarget == "b")
    }

    @Test func hardLinksAndModulesGoIn() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        scratch.hardlink("rootfs/bin/busybox-hardlink", to: "rootfs/bin/busybox")
        let release = try #require(try HostKernels.newest().split(separator: "/").last?.dropFirst("vmlinuz-".count))
        let modules = try KernelModules.resolve(["xenfs", "9p"], release: String(release))
        #expect(modules.map(\.guestName).last == "9p.ko")
        #expect(modules.map(\.guestName).firstIndex(of: "xen-privcmd.ko")! < modules.map(\.guestName).firstIndex(of: "xenfs.ko")!)
        #expect(modules.map(\.guestName).firstIndex(of: "9pnet.ko")! < modules.map(\.guestName).firstIndex(of: "9p.ko")!)
        let result = try InitramfsBuilder(cacheDirectory: scratch.path + "/cache").build(
            InitramfsRequest(
                rootfs: rootfs, initBinary: try fakeInit(scratch), processFile: [], compression: .none, modules: modules))
        let entries = try ArchiveReader.entries(inArchiveAt: result.path, dataLimit: 1 << 16)
        let link = try #require(entries.first { $0.path == "bin/busybox-hardlink" })
        #expect(link.hardlinkTarget == "bin/busybox")
        let order = try #require(entries.first { $0.path == ".runxl/modules/order" }?.data)
        #expect(String(decoding: order, as: UTF8.self).split(separator: "\n").map(String.init) == modules.map(\.guestName))
        #expect(entries.contains { $0.path == ".runxl/modules/xenfs.ko" })
    }

    /// The lookup reads only the lines it needs; it must find what the whole table finds: a
    /// name spelled with dashes or underscores, a compressed file, a module that is also some
    /// other module's dependency (its path appears after another line's colon first).
    @Test func theLookupFindsWhatTheWholeTableFinds() throws {
        let scratch = try ScratchDirectory()
        try scratch.file(
            "modules/9.9.9/modules.dep",
            """
            kernel/fs/netfs/netfs.ko:
            kernel/net/9p/9pnet_xen.ko.xz: kernel/net/9p/9pnet.ko kernel/drivers/xen/xen-front-pgdir-shbuf.ko
            kernel/net/9p/9pnet.ko:
            kernel/drivers/xen/xen-front-pgdir-shbuf.ko:
            kernel/fs/9p/9p.ko: kernel/fs/netfs/netfs.ko kernel/net/9p/9pnet.ko
            kernel/drivers/net/xen-netfront.ko:

            """)
        let root = scratch.path + "/modules"
        let transport = try KernelModules.resolve(["9pnet_xen", "9p"], release: "9.9.9", modulesRoot: root)
        #expect(transport.map(\.guestName) == ["9pnet.ko", "xen-front-pgdir-shbuf.ko", "9pnet_xen.ko.xz", "netfs.ko", "9p.ko"])
        #expect(transport.first?.hostPath == root + "/9.9.9/kernel/net/9p/9pnet.ko")
        for spelling in ["xen-netfront", "xen_netfront"] {
            #expect(try KernelModules.resolve([spelling], release: "9.9.9", modulesRoot: root).map(\.guestName) == ["xen-netfront.ko"])
        }
        #expect(throws: RunxlError.self) { try KernelModules.resolve(["9pnet_x"], release: "9.9.9", modulesRoot: root) }
    }

    @Test func unknownModuleIsAnError() throws {
        let release = try #require(try HostKernels.newest().split(separator: "/").last?.dropFirst("vmlinuz-".count))
        #expect(throws: RunxlError.self) { try KernelModules.resolve(["no_such_module_x"], release: String(release)) }
        // Built-in drivers are fine.
        #expect(try KernelModules.resolve(["xen_blkback_nonexistent_but"].filter { _ in false }, release: String(release)).isEmpty)
    }
}

@Suite struct KernelTests {
    @Test func hostKernelExtractsToELFOnceAndIsCached() throws {
        let scratch = try ScratchDirectory()
        let source = try HostKernels.newest()
        #expect(try KernelImage.inspect(source).format == .bzImage)
        let cache = KernelCache(directory: scratch.path)
        let first = try cache.bootable(source)
        #expect(first.format == .elf)
        #expect(!first.cacheHit)
        #expect(first.path != source)
        let head = try Array(FileSystem.read(first.path).prefix(4))
        #expect(head == [0x7F, 0x45, 0x4C, 0x46])
        let second = try cache.bootable(source)
        #expect(second.cacheHit)
        #expect(second.path == first.path)
    }

    @Test func notAKernelIsInvalidKernelNamingThePath() {
        for path in ["/etc/hostname", "/no/such/vmlinuz"] {
            #expect {
                try KernelImage.inspect(path)
            } throws: { error in
                guard let error = error as? RunxlError else { return false }
                return error.code == .invalidKernel && error.message.contains(path)
            }
        }
    }

    @Test func versionOrder() throws {
        let scratch = try ScratchDirectory()
        for name in ["vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64", "vmlinuz-5.10.0-30-amd64", "config-9.9"] {
            try scratch.file(name, "x")
        }
        #expect(try HostKernels.newest(in: scratch.path) == scratch.path + "/vmlinuz-6.1.0-10-amd64")
        #expect(throws: RunxlError.self) { try HostKernels.newest(in: scratch.path + "/nothing") }
    }
}

@Suite struct GuestSettingsTests {
    private let host = HostConfig(defaultType: .pvh, kernel: "/host/kernel", memoryMiB: 300, vcpus: 3)

    @Test func vmSectionBeatsAnnotationBeatsHostConfigBeatsDefault() throws {
        let annotations = [
            RunxlAnnotations.kernel: "/annotated/kernel", RunxlAnnotations.memory: "400",
            RunxlAnnotations.vcpus: "4", RunxlAnnotations.guestType: "pv",
        ]
        let vm = VM(kernel: VMKernel(path: "/vm/kernel", parameters: ["foo=1"]), hwConfig: VMHWConfig(vcpus: 5, memory: 512 << 20))

        let all = try GuestSettingsResolver.resolve(spec: spec(annotations: annotations, vm: vm), host: host)
        #expect(all.kernel == "/vm/kernel")
        #expect(all.memoryMiB == 512)
        #expect(all.vcpus == 5)
        #expect(all.type == .pv)
        #expect(all.memorySource == .vmSection("vm.hwConfig.memory"))
        #expect(all.cmdline.hasSuffix(" foo=1"))

        let annotated = try GuestSettingsResolver.resolve(spec: spec(annotations: annotations), host: host)
        #expect(annotated.kernel == "/annotated/kernel")
        #expect(annotated.memoryMiB == 400)
        #expect(annotated.vcpus == 4)
        #expect(annotated.type == .pv)

        let hosted = try GuestSettingsResolver.resolve(spec: spec(), host: host)
        #expect(hosted.kernel == "/host/kernel")
        #expect(hosted.memoryMiB == 300)
        #expect(hosted.vcpus == 3)
        #expect(hosted.type == .pvh)
        #expect(hosted.cmdline.contains("pci=off"))
        #expect(hosted.memorySource == .hostConfig("memoryMiB"))

        let defaulted = try GuestSettingsResolver.resolve(spec: spec())
        #expect(defaulted.kernel == (try HostKernels.newest()))
        #expect(defaulted.type == .pv)
        #expect(defaulted.memoryMiB == GuestDefaults().memoryMiB)
        #expect(defaulted.vcpus == 1)
        #expect(defaulted.cmdline == "console=hvc0 quiet loglevel=0 cryptomgr.notests rdinit=/.runxl/init")
        #expect(defaulted.memorySource == .builtIn)
    }

    /// A pod sandbox gets room to grow (docs/pods.md, "Resources"); any VM can ask for it; every
    /// other VM has none, so its guest pays nothing for page descriptors it would never use.
    @Test func podCeilings() throws {
        let sandbox = ["io.kubernetes.cri.container-type": "sandbox"]
        let defaults = GuestDefaults()
        #expect(try GuestSettingsResolver.ceilings(annotations: sandbox, host: host) == (defaults.podMaxMemoryMiB, defaults.podMaxVcpus))
        #expect(try GuestSettingsResolver.ceilings(annotations: ["io.kubernetes.cri-o.ContainerType": "sandbox"], host: host) == (1024, 4))
        let hosted = HostConfig(podMaxMemoryMiB: 512, podMaxVcpus: 2)
        #expect(try GuestSettingsResolver.ceilings(annotations: sandbox, host: hosted) == (512, 2))
        var annotated = sandbox
        annotated[RunxlAnnotations.maxMemory] = "2048"
        annotated[RunxlAnnotations.maxVcpus] = "8"
        #expect(try GuestSettingsResolver.ceilings(annotations: annotated, host: hosted) == (2048, 8))
        #expect(try GuestSettingsResolver.ceilings(annotations: [RunxlAnnotations.maxMemory: "700"], host: host) == (700, nil))
        #expect(try GuestSettingsResolver.ceilings(annotations: ["io.kubernetes.cri.container-type": "container"], host: host) == (nil, nil))
        #expect(try GuestSettingsResolver.ceilings(annotations: [:], host: host) == (nil, nil))

        let resolved = try GuestSettingsResolver.resolve(spec: spec(annotations: sandbox), host: host)
        #expect(resolved.maxMemoryMiB == 1024 && resolved.maxVcpus == 4)
        #expect(throws: RunxlError.self) {
            try GuestSettingsResolver.ceilings(annotations: sandbox, host: HostConfig(podMaxMemoryMiB: 0))
        }
        for bad in ["0", "many", "129"] {
            #expect {
                try GuestSettingsResolver.ceilings(annotations: [RunxlAnnotations.maxVcpus: bad], host: host)
            } throws: { error in
                (error as? RunxlError)?.code == .invalidAnnotation
            }
        }
    }

    @Test func memoryLimitSizesTheGuest() throws {
        var limited = spec()
        limited.linux = Linux(resources: LinuxResources(memory: LinuxMemory(limit: 100 << 20)))
        let settings = try GuestSettingsResolver.resolve(spec: limited, host: host)
        #expect(settings.memoryMiB == 100 + GuestDefaults().kernelOverheadMiB)
        #expect(settings.memorySource == .containerLimit("linux.resources.memory.limit"))
    }

    @Test(arguments: [
        (RunxlAnnotations.memory, "lots"), (RunxlAnnotations.memory, "0"), (RunxlAnnotations.vcpus, "-1"),
        (RunxlAnnotations.guestType, "hvm"), (RunxlAnnotations.cmdlineExtra, "a\nb"),
        (RunxlAnnotations.initramfsCompression, "bzip2"), (RunxlAnnotations.kernel, "relative/kernel"),
    ])
    func badAnnotationsNameTheirKey(key: String, value: String) {
        #expect {
            try GuestSettingsResolver.resolve(spec: spec(annotations: [key: value]), host: host)
        } throws: { error in
            guard let error = error as? RunxlError else { return false }
            return error.code == .invalidAnnotation && error.message.contains(key)
        }
    }

    @Test func tooLongCommandLine() {
        let extra = String(repeating: "x", count: 1100)
        #expect(throws: RunxlError.self) {
            try GuestSettingsResolver.resolve(spec: spec(annotations: [RunxlAnnotations.cmdlineExtra: extra]), host: host)
        }
    }

    @Test func domainNamesStayUniqueAndShort() {
        #expect(GuestNaming.domainName(containerID: "abc") == "runxl-abc")
        let long1 = GuestNaming.domainName(containerID: String(repeating: "a", count: 64) + "1")
        let long2 = GuestNaming.domainName(containerID: String(repeating: "a", count: 64) + "2")
        #expect(long1 != long2)
        #expect(long1.utf8.count <= GuestNaming.maximumLength)
    }
}

@Suite struct GuestBuilderTests {
    @Test func checksNameTheField() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        let builder = GuestBuilder(options: GuestBuildOptions(initBinary: try fakeInit(scratch), cacheDirectory: scratch.path + "/cache"))
        func failure(_ spec: Spec) -> RunxlError? {
            do {
                _ = try builder.build(spec: spec, rootfs: rootfs, domainName: "t")
                return nil
            } catch { return error }
        }
        #expect(failure(spec(args: []))?.message.contains("process.args") == true)
        #expect(failure(spec(args: ["no-such-binary"]))?.message.contains("process.args[0]") == true)
        #expect(failure(spec(args: ["/bin/../etc/passwd"]))?.message.contains("process.args[0]") == true)
        var withUser = spec()
        withUser.process?.user = OCI.User(username: "ghost")
        #expect(failure(withUser)?.message.contains("process.user.username") == true)
        let badKernel = failure(spec(annotations: [RunxlAnnotations.kernel: "/etc/hostname"]))
        #expect(badKernel?.code == .invalidKernel)
        #expect(badKernel?.message.contains("/etc/hostname") == true)
        #expect(failure(spec(annotations: [RunxlAnnotations.memory: "8"]))?.message.contains(RunxlAnnotations.memory) == true)
    }

    @Test func buildsAndResolvesThroughSymlinksInsideTheRootfs() throws {
        let scratch = try ScratchDirectory()
        let rootfs = try makeBusyboxRootfs(in: scratch)
        // An absolute symlink must resolve inside the rootfs, not on the host.
        scratch.symlink("rootfs/usr/bin/tool", to: "/bin/busybox")
        var named = spec(args: ["tool", "echo", "hi"])
        named.process?.user = OCI.User(username: "nobody")
        let builder = GuestBuilder(options: GuestBuildOptions(initBinary: try fakeInit(scratch), cacheDirectory: scratch.path + "/cache"))
        let guest = try builder.build(spec: named, rootfs: rootfs, domainName: "runxl-t")
        #expect(guest.process.user.uid == 65534)
        #expect(guest.domain.kernel.contains("/kernels/vmlinux-"))
        #expect(guest.domain.ramdisk == guest.initramfs?.path)
        #expect(guest.domain.memoryMiB >= 256)
        let again = try builder.build(spec: named, rootfs: rootfs, domainName: "runxl-t")
        #expect(again.initramfs?.cacheHit == true)
        #expect(again.kernel.cacheHit)
    }

    @Test func convertWritesADirectoryXlAccepts() throws {
        let scratch = try ScratchDirectory()
        _ = try makeBusyboxRootfs(in: scratch, at: "bundle/rootfs")
        let json = try JSONDocument.encode(spec())
        try FileSystem.writeAtomically(scratch.path + "/bundle/config.json", Array(json))
        let builder = GuestBuilder(options: GuestBuildOptions(initBinary: try fakeInit(scratch), cacheDirectory: scratch.path + "/cache"))
        let output = scratch.path + "/out"
        let guest = try builder.convert(bundle: scratch.path + "/bundle", output: output)
        #expect(guest.domain.name == "runxl-bundle")
        let initramfs = "initramfs.cpio" + GuestDefaults().compression.fileExtension
        for file in ["kernel", initramfs, "xl.cfg", "guest.json"] {
            #expect(FileSystem.exists(output + "/" + file), "missing \(file)")
        }
        let config = String(decoding: try FileSystem.read(output + "/xl.cfg"), as: UTF8.self)
        #expect(config.contains("kernel = \"\(output)/kernel\""))
        #expect(config.contains("ramdisk = \"\(output)/\(initramfs)\""))
        #expect(config.contains("on_reboot = \"destroy\""))
        let description = try JSONDocument.decode(
            GuestDescription.self, from: try FileSystem.read(output + "/guest.json"), documentName: "guest.json", code: .invalidDocument)
        #expect(description.domain == guest.domain)
    }
}

@Suite struct XlConfigTests {
    @Test func rendersEveryFieldQuoted() throws {
        let spec = DomainSpec(
            name: "runxl-a\"b\\c", type: .pvh, kernel: "/k", ramdisk: "/r x", cmdline: "console=hvc0 x=\"y\"",
            memoryMiB: 300, vcpus: 2,
            disks: [DiskSpec(path: "/images/a,b.img", virtualDevice: "xvda", readOnly: true)],
            vifs: [VifSpec(mac: "00:16:3e:00:00:01", bridge: "xenbr0", backendName: "vif-runxl")])
        let text = try XlConfig.render(spec, comment: "made by a test\nsecond line")
        #expect(text == """
            # made by a test
            # second line
            name = "runxl-a\\"b\\\\c"
            type = "pvh"
            kernel = "/k"
            ramdisk = "/r x"
            extra = "console=hvc0 x=\\"y\\""
            memory = 300
            vcpus = 2
            disk = [ "format=raw, vdev=xvda, access=ro, target=/images/a,b.img" ]
            vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0,vifname=vif-runxl" ]
            on_poweroff = "destroy"
            on_reboot = "destroy"
            on_crash = "destroy"

            """)
    }

    /// A VM that can grow: xl's own names for the ceilings, only when they differ.
    @Test func ceilingsBecomeMaxmemAndMaxvcpus() throws {
        let spec = DomainSpec(name: "runxl-pod", type: .pv, kernel: "/k", memoryMiB: 256, vcpus: 1, maxMemoryMiB: 1024, maxVcpus: 4)
        let text = try XlConfig.render(spec)
        #expect(text.contains("memory = 256\nvcpus = 1\nmaxmem = 1024\nmaxvcpus = 4\n"))
        let flat = DomainSpec(name: "runxl-one", type: .pv, kernel: "/k", memoryMiB: 256, vcpus: 1, maxMemoryMiB: 256)
        #expect(!(try XlConfig.render(flat)).contains("max"))
    }

    @Test func controlAndNonASCIIBytesAreEscaped() {
        #expect(XlConfig.quote("a\nb\u{7F}é") == #""a\x0ab\x7f\xc3\xa9""#)
    }

    @Test func deviceSeparatorsAreRefused() {
        let bad = [
            DomainSpec(name: "x", type: .pv, kernel: "/k", vifs: [VifSpec(bridge: "br0,script=/evil")]),
            DomainSpec(name: "x", type: .pv, kernel: "/k", vifs: [VifSpec(mac: "zz")]),
            DomainSpec(name: "x", type: .pv, kernel: "/k", disks: [DiskSpec(path: "/a", virtualDevice: "xvda,target=/etc/shadow")]),
        ]
        for spec in bad {
            #expect(throws: RunxlError.self) { try XlConfig.render(spec) }
        }
    }
}
