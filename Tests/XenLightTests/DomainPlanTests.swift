import Hypervisor
import RunxlBase
import Testing

@testable import XenLight

@Suite struct DomainPlanTests {
    let spec = DomainSpec(
        name: "runxl-abc", type: .pvh, kernel: "/boot/vmlinux", ramdisk: "/var/lib/runxl/initrd.cpio",
        cmdline: "console=hvc0 pci=off", memoryMiB: 256, vcpus: 2,
        disks: [DiskSpec(path: "/var/lib/runxl/rootfs.img", virtualDevice: "xvda", readOnly: false)],
        vifs: [VifSpec(mac: "00:16:3e:0a:0b:0c", bridge: "xenbr0", backendName: "vif-abc"), VifSpec()])

    @Test func aSpecBecomesLibxlUnits() throws {
        let plan = try DomainPlan(spec)
        #expect(plan.kind == .pvh)
        #expect(plan.memoryKiB == 262_144)
        #expect(plan.vcpus == 2)
        #expect(plan.kernel == "/boot/vmlinux")
        #expect(plan.ramdisk == "/var/lib/runxl/initrd.cpio")
        #expect(plan.cmdline == "console=hvc0 pci=off")
        #expect(plan.disks == [.init(path: "/var/lib/runxl/rootfs.img", virtualDevice: "xvda", format: .raw, readWrite: true)])
        #expect(plan.nics[0] == .init(mac: [0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c], bridge: "xenbr0", backendName: "vif-abc", script: nil))
        // No bridge: a hotplug script that leaves the backend alone instead of libxl's vif-bridge.
        #expect(plan.nics[1] == .init(mac: nil, bridge: nil, backendName: nil, script: "/bin/true"))
        #expect(plan.onPoweroff == .destroy && plan.onReboot == .destroy && plan.onCrash == .destroy)
    }

    /// A pod's VM: maxmem and max_vcpus above what it boots with; a ceiling below is refused.
    @Test func ceilingsCarryOverAndMayNotBeBelowTheBootSize() throws {
        var spec = spec
        #expect(try DomainPlan(spec).maxMemoryKiB == 262_144)
        #expect(try DomainPlan(spec).maxVcpus == 2)
        spec.maxMemoryMiB = 1024
        spec.maxVcpus = 4
        let plan = try DomainPlan(spec)
        #expect(plan.memoryKiB == 262_144 && plan.maxMemoryKiB == 1_048_576)
        #expect(plan.vcpus == 2 && plan.maxVcpus == 4)
        for (memory, vcpus) in [(128, 4), (1024, 1), (1024, 129)] {
            spec.maxMemoryMiB = memory
            spec.maxVcpus = vcpus
            #expect(throws: RunxlError.self) { try DomainPlan(spec) }
        }
    }

    @Test func sharesCarryOverWithOneTagEachAndAbsolutePaths() throws {
        var spec = spec
        spec.shares = [ShareSpec(tag: "runxl-root", path: "/run/runxl/a/share/root"), ShareSpec(tag: "runxl-control", path: "/run/runxl/a/share/control")]
        #expect(try DomainPlan(spec).shares == [.init(tag: "runxl-root", path: "/run/runxl/a/share/root"), .init(tag: "runxl-control", path: "/run/runxl/a/share/control")])
        for bad in [
            [ShareSpec(tag: "same", path: "/a"), ShareSpec(tag: "same", path: "/b")],
            [ShareSpec(tag: "tag,security_model=passthrough", path: "/a")],
            [ShareSpec(tag: "ok", path: "relative")],
        ] {
            spec.shares = bad
            #expect(throws: RunxlError.self) { try DomainPlan(spec) }
        }
    }

    @Test func lifecycleActionsAndTypeCarryOver() throws {
        var spec = spec
        spec.type = .pv
        spec.onReboot = .restart
        spec.onCrash = .preserve
        let plan = try DomainPlan(spec)
        #expect(plan.kind == .pv)
        #expect(plan.onReboot == .restart)
        #expect(plan.onCrash == .preserve)
    }

    @Test(arguments: [
        ("", RunxlError.Code.invalidDomainConfig, "1 to 64 bytes"),
        ("a/b", .invalidDomainConfig, "'/'"),
        ("12", .invalidDomainConfig, "all digits"),
        ("tab\there", .invalidDomainConfig, "control character"),
    ])
    func badNamesAreRefused(name: String, code: RunxlError.Code, words: String) {
        var spec = spec
        spec.name = name
        expectRefusal(spec, code, words)
    }

    @Test func badValuesAreRefusedNamingThem() {
        var spec = spec
        spec.kernel = "vmlinux"
        expectRefusal(spec, .invalidKernel, "'vmlinux'")

        spec = self.spec
        spec.ramdisk = "initrd"
        expectRefusal(spec, .invalidDomainConfig, "'initrd'")

        spec = self.spec
        spec.memoryMiB = 0
        expectRefusal(spec, .invalidDomainConfig, "0 MiB")

        spec = self.spec
        spec.vcpus = 0
        expectRefusal(spec, .invalidDomainConfig, "0 vCPUs")
        spec.vcpus = 129
        expectRefusal(spec, .invalidDomainConfig, "129 vCPUs")

        spec = self.spec
        spec.cmdline = String(repeating: "x", count: 1024)
        expectRefusal(spec, .invalidDomainConfig, "1024 bytes")

        spec = self.spec
        spec.disks[0].virtualDevice = "../sda"
        expectRefusal(spec, .invalidDomainConfig, "'../sda'")
        spec.disks[0] = DiskSpec(path: "disk.img", virtualDevice: "xvda")
        expectRefusal(spec, .invalidDomainConfig, "'disk.img'")

        spec = self.spec
        spec.vifs = [VifSpec(mac: "01:00:5e:00:00:01")]
        expectRefusal(spec, .invalidDomainConfig, "multicast")
        spec.vifs = [VifSpec(mac: "00:16:3e:0a:0b")]
        expectRefusal(spec, .invalidDomainConfig, "'00:16:3e:0a:0b'")
        spec.vifs = [VifSpec(bridge: "a-bridge-name-too-long")]
        expectRefusal(spec, .invalidDomainConfig, "bridge 'a-bridge-name-too-long'")
    }

    @Test func macAddresses() {
        #expect(DomainPlan.parseMAC("00:16:3E:FF:00:01") == [0x00, 0x16, 0x3e, 0xff, 0x00, 0x01])
        #expect(DomainPlan.parseMAC("00:16:3e:ff:00") == nil)
        #expect(DomainPlan.parseMAC("00:16:3e:ff:00:1") == nil)
        #expect(DomainPlan.parseMAC("00:16:3e:ff:00:zz") == nil)
        #expect(DomainPlan.parseMAC("03:16:3e:ff:00:01") == nil)
    }

    private func expectRefusal(
        _ spec: DomainSpec, _ code: RunxlError.Code, _ words: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try DomainPlan(spec)
            Issue.record("accepted \(spec)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
            #expect(error.message.contains(words), "message: \(error.message)", sourceLocation: sourceLocation)
        }
    }
}
