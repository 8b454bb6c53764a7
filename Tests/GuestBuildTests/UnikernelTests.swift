import Foundation
@testable import GuestBuild
import GuestProtocol
import Hypervisor
import OCI
import RunxlBase
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The test unikernels (Images/unikernels, gcc only), built once for these suites.
enum TestUnikernels {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let built: Result<String, any Error> = Result {
        let out = repository + "/Images/unikernels/out"
        if !FileSystem.exists(out + "/pv.elf") || !FileSystem.exists(out + "/pvh.elf") {
            try run(repository + "/Images/unikernels/build", [])
        }
        return out
    }

    static func path(_ type: String) throws -> String { try built.get() + "/\(type).elf" }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RunxlError(.internal, "\(executable) failed") }
    }

    static var gccAvailable: Bool { FileSystem.exists("/usr/bin/gcc") && FileSystem.exists("/usr/include/xen/xen.h") }
}

@Suite(.enabled(if: TestUnikernels.gccAvailable)) struct XenElfNotesTests {
    @Test func pvKernelBootsAsPVOnly() throws {
        let notes = try XenElfNotes.read(path: try TestUnikernels.path("pv"), description: "pv.elf")
        #expect(notes.elfClass == .elf64)
        #expect(notes.xenVersion == "xen-3.0")
        #expect(notes.guestOS == "runxl-test-unikernel")
        #expect(notes.loader == "generic")
        #expect(notes.entry != nil && notes.hypercallPage != nil)
        #expect(notes.phys32Entry == nil)
        #expect(notes.bootableTypes == [.pv])
    }

    @Test func pvhKernelBootsAsPVHOnly() throws {
        let notes = try XenElfNotes.read(path: try TestUnikernels.path("pvh"), description: "pvh.elf")
        #expect(notes.phys32Entry != nil)
        #expect(notes.bootableTypes == [.pvh])
    }

    @Test func hostProgramHasNoXenNotes() throws {
        #expect(try XenElfNotes.read(path: "/bin/true", description: "true").bootableTypes.isEmpty)
    }
}

/// Hand-made ELF images for what the built kernels cannot show.
@Suite struct HandMadeElfTests {
    /// An ELF64 x86-64 header with one PT_NOTE program header over `notes`.
    static func elf(notes: [UInt8], machine: UInt16 = 62, noteSizeOverride: UInt64? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64 + 56)
        bytes[0...3] = [0x7F, 0x45, 0x4C, 0x46]
        bytes[4] = 2; bytes[5] = 1; bytes[6] = 1
        func put(_ value: UInt64, at offset: Int, size: Int) {
            for index in 0..<size { bytes[offset + index] = UInt8(value >> (8 * UInt64(index)) & 0xFF) }
        }
        put(2, at: 16, size: 2)  // ET_EXEC
        put(UInt64(machine), at: 18, size: 2)
        put(64, at: 0x20, size: 8)  // e_phoff
        put(56, at: 0x36, size: 2)
        put(1, at: 0x38, size: 2)
        put(4, at: 64, size: 4)  // PT_NOTE
        put(120, at: 64 + 8, size: 8)  // p_offset
        put(noteSizeOverride ?? UInt64(notes.count), at: 64 + 0x20, size: 8)  // p_filesz
        return bytes + notes
    }

    static func note(type: UInt32, _ description: [UInt8], name: String = "Xen") -> [UInt8] {
        func word(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
        var nameBytes = Array(name.utf8) + [0]
        let nameSize = nameBytes.count
        while nameBytes.count % 4 != 0 { nameBytes.append(0) }
        var descriptionBytes = description
        while descriptionBytes.count % 4 != 0 { descriptionBytes.append(0) }
        return word(nameSize) + word(description.count) + word(Int(type)) + nameBytes + descriptionBytes
    }

    @Test func bothNotesMeanBothTypes() throws {
        let notes = Self.note(type: 5, Array("xen-3.0".utf8) + [0]) + Self.note(type: 18, [0, 0, 0x10, 0])
        let parsed = try XenElfNotes.parse(Self.elf(notes: notes), description: "both")
        #expect(parsed.bootableTypes == [.pv, .pvh])
        #expect(parsed.phys32Entry == 0x100000)
    }

    @Test func notesOfAnotherOwnerAreIgnored() throws {
        let notes = Self.note(type: 18, [0, 0, 0x10, 0], name: "GNU")
        #expect(try XenElfNotes.parse(Self.elf(notes: notes), description: "gnu").bootableTypes.isEmpty)
    }

    @Test func anOlderInterfaceVersionIsNotPV() throws {
        let notes = Self.note(type: 5, Array("xen-2.0".utf8) + [0])
        #expect(try XenElfNotes.parse(Self.elf(notes: notes), description: "old").bootableTypes.isEmpty)
    }

    @Test func badInputIsAnInvalidKernelError() {
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("not ELF", Array("#!/bin/sh\necho not a kernel\n".utf8) + [UInt8](repeating: 0, count: 64)),
            ("ARM", Self.elf(notes: Self.note(type: 18, [0, 0, 0x10, 0]), machine: 183)),
            ("truncated header", Array(Self.elf(notes: []).prefix(60))),
            ("note area past the end", Self.elf(notes: Self.note(type: 18, [0, 0, 0x10, 0]), noteSizeOverride: 4096)),
            ("odd-sized number", Self.elf(notes: Self.note(type: 18, [1, 2, 3]))),
        ]
        for (name, bytes) in cases {
            #expect(throws: RunxlError.self, "\(name)") { try XenElfNotes.parse(bytes, description: name) }
            do {
                _ = try XenElfNotes.parse(bytes, description: "case \(name)")
            } catch {
                #expect(error.code == .invalidKernel)
                #expect(error.message.contains("case \(name)"))
            }
        }
    }

    @Test func aNoteClaimingAHugeNameDoesNotTrap() {
        // namesz near 2^31: the padded offsets must not overflow into a valid-looking range.
        var notes = Self.note(type: 5, Array("xen-3.0".utf8) + [0])
        notes[0...3] = [0xF0, 0xFF, 0xFF, 0x7F]
        #expect(throws: RunxlError.self) { try XenElfNotes.parse(Self.elf(notes: notes), description: "huge") }
    }
}

@Suite struct UnikernelFlavourTests {
    let launch = UnikernelLaunch(arguments: ["app", "a b", "x"], environment: ["A=1", "B=two words"])

    @Test func unikraftPutsParametersEnvironmentThenSeparatorThenArguments() throws {
        var launch = self.launch
        launch.parameters = ["netdev.ip=10.0.0.2/24:10.0.0.1"]
        launch.hasInitrd = true
        let line = try UnikraftFlavour().commandLine(for: launch).rendered()
        #expect(line == #"unikernel netdev.ip=10.0.0.2/24:10.0.0.1 env.vars=[ A=1 "B=two words" ] vfs.fstab=[ "initrd0:/:extract:::" ] -- app "a b" x"#)
    }

    /// Unikraft takes the first word as argv[0]: the binary's name leads, so that a library
    /// parameter or `--` is never mistaken for the program.
    @Test func unikraftLeadsWithTheProgramName() throws {
        var launch = UnikernelLaunch(arguments: ["a"], parameters: ["netdev.ip=10.0.0.2/24"])
        launch.programName = UnikernelBuilder.programName(of: "/unikraft/bin/kernel")
        #expect(try UnikraftFlavour().commandLine(for: launch).rendered() == "kernel netdev.ip=10.0.0.2/24 -- a")
        #expect(UnikernelBuilder.programName(of: "boot/helloworld_xen-x86_64") == "helloworld_xen-x86_64")
        #expect(UnikernelBuilder.programName(of: "/boot/my kernel") == "unikernel")
        #expect(UnikernelBuilder.programName(of: "/") == "unikernel")
        // The other flavours have no program word.
        #expect(try MiniOSFlavour().commandLine(for: launch).rendered() == "netdev.ip=10.0.0.2/24 a")
    }

    /// The namespace's address (CNI's) reaches Unikraft as uknetdev's `netdev.ip`; flavours
    /// that cannot take it get no vif (`configuresNetwork`).
    @Test func unikraftTakesTheNamespacesAddress() throws {
        let namespace = GuestNetwork(
            interfaces: [
                .init(name: "lo", mac: "00:00:00:00:00:00", mtu: 65536, addresses: []),
                .init(name: "eth0", mac: "6a:1b:2c:3d:4e:5f", mtu: 1500, addresses: [
                    .init(address: "fd00::7", prefixLength: 64), .init(address: "10.88.0.7", prefixLength: 16),
                ]),
            ],
            routes: [
                .init(destination: nil, gateway: "fd00::1", interface: "eth0"),
                .init(destination: nil, gateway: "10.88.0.1", interface: "eth0"),
            ])
        let network = try #require(UnikernelNetwork(namespace))
        #expect(network == UnikernelNetwork(address: "10.88.0.7", prefixLength: 16, gateway: "10.88.0.1"))
        let launch = UnikernelLaunch(arguments: ["a"], programName: "kernel", network: network)
        #expect(try UnikraftFlavour().commandLine(for: launch).rendered() == "kernel netdev.ip=10.88.0.7/16:10.88.0.1 -- a")
        #expect(UnikraftFlavour().configuresNetwork)
        for flavour in [MiniOSFlavour(), XenELFFlavour(), MirageFlavour(), RumprunFlavour()] as [any UnikernelFlavour] {
            #expect(!flavour.configuresNetwork)
        }
        #expect(UnikernelNetwork(GuestNetwork(interfaces: [], routes: [])) == nil)
    }

    /// Unikraft (lib/ukboot) ignores a `--` right after the program name and leaves it in argv:
    /// without parameters the arguments follow the name directly.
    @Test func unikraftWithoutParametersHasNoSeparator() throws {
        var launch = UnikernelLaunch(arguments: ["a", "b c"], programName: "kernel")
        #expect(try UnikraftFlavour().commandLine(for: launch).rendered() == #"kernel a "b c""#)
        launch.arguments = []
        #expect(try UnikraftFlavour().commandLine(for: launch).rendered() == "kernel")
        launch.arguments = ["x", "--", "y"]
        do {
            _ = try UnikraftFlavour().commandLine(for: launch).rendered()
            Issue.record("accepted a -- the kernel would take as its separator")
        } catch {
            #expect(error.code == .invalidConfig)
            #expect(error.message.contains("process.args[1]"))
        }
        launch.parameters = ["netdev.ip=10.0.0.2/24"]
        #expect(try UnikraftFlavour().commandLine(for: launch).rendered() == "kernel netdev.ip=10.0.0.2/24 -- x -- y")
    }

    @Test func unikraftRefusesQuotes() {
        #expect(throws: RunxlError.self) {
            try UnikraftFlavour().commandLine(for: UnikernelLaunch(arguments: [#"say "hi""#])).rendered()
        }
    }

    @Test func plainWordFlavoursJoinParametersAndArguments() throws {
        let launch = UnikernelLaunch(arguments: ["hello", "exit=3"], environment: ["A=1"], parameters: ["--verbose"])
        for flavour in [XenELFFlavour(), MiniOSFlavour(), MirageFlavour()] as [any UnikernelFlavour] {
            #expect(try flavour.commandLine(for: launch).rendered() == "--verbose hello exit=3")
            #expect(!flavour.passesEnvironment)
        }
    }

    @Test func plainWordFlavoursRefuseSpacesAndControlCharacters() {
        for arguments in [["a b"], [""], ["tab\there"], ["née"]] {
            do {
                _ = try XenELFFlavour().commandLine(for: UnikernelLaunch(arguments: arguments))
                Issue.record("accepted \(arguments)")
            } catch {
                #expect(error.code == .invalidConfig)
                #expect(error.message.contains("process.args[0]"))
            }
        }
    }

    @Test func rumprunWritesItsJSONConfiguration() throws {
        let launch = UnikernelLaunch(
            arguments: ["nginx", "-c", "/etc/nginx.conf"], environment: ["A=1", #"Q="x""#],
            block: UnikernelBlockDevice(virtualDevice: "xvda", mountPoint: "/data"))
        let line = try RumprunFlavour().commandLine(for: launch).rendered()
        #expect(line == #"{"cmdline":"nginx -c /etc/nginx.conf","env":"A=1","env":"Q=\"x\"","blk":{"source":"dev","path":"/dev/xvda","fstype":"blk","mountpoint":"/data"}}"#)
    }

    @Test func tooLongForXen() {
        let launch = UnikernelLaunch(arguments: Array(repeating: String(repeating: "x", count: 100), count: 11))
        do {
            _ = try XenELFFlavour().commandLine(for: launch).rendered()
            Issue.record("accepted 1110 bytes")
        } catch {
            #expect(error.message.contains("1023"))
        }
    }

    @Test func kindNamesAndAliases() {
        #expect(UnikernelKind(name: "Unikraft") == .unikraft)
        #expect(UnikernelKind(name: "solo5") == .mirage)
        #expect(UnikernelKind(name: "minios") == .miniOS)
        #expect(UnikernelKind(name: "xen-elf") == .xenELF)
        #expect(UnikernelKind(name: "hermit") == nil)
        #expect(UnikernelKind(name: "linux") == nil)
    }
}

@Suite struct UnikernelRecognizerTests {
    typealias Runxl = UnikernelAnnotations.Runxl
    typealias Urunc = UnikernelAnnotations.Urunc

    func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func aPlainContainerIsNotAUnikernel() throws {
        let scratch = try ScratchDirectory("uk")
        try scratch.file("rootfs/bin/sh", "#!")
        #expect(try UnikernelRecognizer.recognize(
            annotations: ["org.runxl.memory": "64"], rootfs: RootfsLookup(rootfs: scratch.path + "/rootfs")) == nil)
    }

    @Test func runxlAnnotations() throws {
        let declaration = try #require(try UnikernelRecognizer.recognize(
            annotations: [Runxl.type: "unikraft", Runxl.binary: "boot/kernel", Runxl.parameters: "a=1  b=2", Runxl.initrd: "/initrd"],
            rootfs: nil))
        #expect(declaration.convention == .runxl)
        #expect(declaration.kind == .unikraft)
        #expect(declaration.binary == "/boot/kernel")
        #expect(declaration.initrd == "/initrd")
        #expect(declaration.parameters == ["a=1", "b=2"])
    }

    @Test func runxlAnnotationErrorsNameTheKey() {
        let cases: [([String: String], String)] = [
            ([Runxl.type: "hermit", Runxl.binary: "/k"], Runxl.type),
            ([Runxl.binary: "/k"], Runxl.type),
            ([Runxl.type: "mirage"], Runxl.binary),
            ([Runxl.type: "mirage", Runxl.binary: "/k", Runxl.prefix + "typo": "x"], Runxl.prefix + "typo"),
        ]
        for (annotations, key) in cases {
            do {
                _ = try UnikernelRecognizer.recognize(annotations: annotations, rootfs: nil)
                Issue.record("accepted \(annotations)")
            } catch {
                #expect(error.code == .invalidUnikernel)
                #expect(error.message.contains(key))
            }
        }
    }

    @Test func uruncAnnotationsDecodeTheirValues() throws {
        let declaration = try #require(try UnikernelRecognizer.recognize(
            annotations: [
                Urunc.type: "b64:" + b64("rumprun"), Urunc.hypervisor: b64("xen"), Urunc.binary: "/unikernel/app",
                Urunc.cmdline: b64("app -v"), Urunc.block: "b64:" + b64("/disk.img"), Urunc.blockMountPoint: "/data",
            ], rootfs: nil))
        #expect(declaration.convention == .uruncAnnotations)
        #expect(declaration.kind == .rumprun)
        #expect(declaration.binary == "/unikernel/app")
        #expect(declaration.defaultArguments == ["app", "-v"])
        #expect(declaration.block == "/disk.img")
        #expect(declaration.blockMountPoint == "/data")
    }

    @Test func uruncValueDecoding() {
        #expect(UnikernelRecognizer.decodeUruncValue("b64:" + b64("unikraft")) == "unikraft")
        #expect(UnikernelRecognizer.decodeUruncValue(b64("hello world")) == "hello world")
        #expect(UnikernelRecognizer.decodeUruncValue("xen") == "xen")
        #expect(UnikernelRecognizer.decodeUruncValue("/unikernel/app.hvt") == "/unikernel/app.hvt")
        // Valid base64 that decodes to bytes that are not text stays as written.
        #expect(UnikernelRecognizer.decodeUruncValue("unikraft") == "unikraft")
    }

    @Test func uruncForAnotherHypervisorOrTypeIsRefused() {
        for (type, hypervisor, text) in [("unikraft", "qemu", "Xen only"), ("hermit", "xen", "not a unikernel type"), ("unikraft", "", "hypervisor")] {
            do {
                _ = try UnikernelRecognizer.recognize(
                    annotations: [Urunc.type: type, Urunc.hypervisor: hypervisor, Urunc.binary: "/k"], rootfs: nil)
                Issue.record("accepted \(type) on \(hypervisor)")
            } catch {
                #expect(error.code == .invalidUnikernel)
                #expect(error.message.contains(text))
            }
        }
    }

    @Test func uruncJSONInTheRootfs() throws {
        let scratch = try ScratchDirectory("uk")
        try scratch.file(
            "rootfs/urunc.json",
            #"{"\#(Urunc.type)": "\#(b64("mirage"))", "\#(Urunc.hypervisor)": "\#(b64("xen"))", "\#(Urunc.binary)": "\#(b64("/unikernel/app"))", "other": 1}"#)
        let declaration = try #require(try UnikernelRecognizer.recognize(annotations: [:], rootfs: RootfsLookup(rootfs: scratch.path + "/rootfs")))
        #expect(declaration.convention == .uruncFile)
        #expect(declaration.kind == .mirage)
        #expect(declaration.binary == "/unikernel/app")
    }

    @Test func brokenUruncJSONIsAnError() throws {
        let scratch = try ScratchDirectory("uk")
        try scratch.file("rootfs/urunc.json", "{not json")
        #expect(throws: RunxlError.self) {
            try UnikernelRecognizer.recognize(annotations: [:], rootfs: RootfsLookup(rootfs: scratch.path + "/rootfs"))
        }
    }

    @Test func kraftkitLayout() throws {
        let scratch = try ScratchDirectory("uk")
        try scratch.file("rootfs/unikraft/bin/kernel", "ELF")
        try scratch.file("rootfs/unikraft/bin/initrd", "cpio")
        let declaration = try #require(try UnikernelRecognizer.recognize(annotations: [:], rootfs: RootfsLookup(rootfs: scratch.path + "/rootfs")))
        #expect(declaration.convention == .kraftkit)
        #expect(declaration.kind == .unikraft)
        #expect(declaration.binary == UnikernelAnnotations.Kraftkit.kernelPath)
        #expect(declaration.initrd == UnikernelAnnotations.Kraftkit.initrdPath)
        do {
            _ = try UnikernelRecognizer.recognize(
                annotations: [UnikernelAnnotations.Kraftkit.platform: "qemu"], rootfs: RootfsLookup(rootfs: scratch.path + "/rootfs"))
            Issue.record("accepted a qemu-platform Unikraft")
        } catch {
            #expect(error.code == .invalidUnikernel)
            #expect(error.message.contains("qemu"))
        }
    }

    @Test func imageHintsTakeRecognizedKeysAndKraftkitPlatform() throws {
        let layer = Descriptor(
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:" + String(repeating: "0", count: 64), size: 1,
            annotations: [UnikernelAnnotations.Kraftkit.kernel: "/unikraft/bin/kernel"])
        let manifest = Manifest(
            schemaVersion: 2, config: Descriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:" + String(repeating: "1", count: 64), size: 1),
            layers: [layer], annotations: ["org.opencontainers.image.title": "x", Runxl.type: "unikraft"])
        let config = ImageConfig(architecture: "x86_64", os: "xen", rootfs: .init(type: "layers", diffIDs: []))
        let hints = UnikernelImageHints.annotations(manifest: manifest, config: config)
        #expect(hints == [
            Runxl.type: "unikraft", UnikernelAnnotations.Kraftkit.kernel: "/unikraft/bin/kernel",
            UnikernelAnnotations.Kraftkit.platform: "xen",
        ])
    }
}

@Suite(.enabled(if: TestUnikernels.gccAvailable)) struct UnikernelBuilderTests {
    /// A rootfs with the test kernel at /boot/kernel and a spec declaring it.
    func bundle(_ type: String, annotations: [String: String] = [:], args: [String] = ["hello", "exit=3"]) throws -> (ScratchDirectory, Spec) {
        let scratch = try ScratchDirectory("uk")
        try scratch.directory("rootfs/boot")
        try FileSystem.writeAtomically(scratch.path + "/rootfs/boot/kernel", try FileSystem.read(try TestUnikernels.path(type)), mode: 0o755)
        var spec = Spec.runxlDefault(args: args, terminal: false)
        spec.annotations = [UnikernelAnnotations.Runxl.type: "xen-elf", UnikernelAnnotations.Runxl.binary: "/boot/kernel"]
            .merging(annotations) { _, new in new }
        return (scratch, spec)
    }

    func build(_ scratch: ScratchDirectory, _ spec: Spec, host: HostConfig = HostConfig()) throws -> UnikernelGuest {
        let rootfs = scratch.path + "/rootfs"
        let declaration = try #require(try UnikernelRecognizer.recognize(annotations: spec.annotations ?? [:], rootfs: RootfsLookup(rootfs: rootfs)))
        return try UnikernelBuilder(host: host).build(declaration, spec: spec, rootfs: rootfs, domainName: "runxl-test")
    }

    @Test func pvAndPVHTypesComeFromTheNotes() throws {
        for type in ["pv", "pvh"] {
            let (scratch, spec) = try bundle(type)
            let guest = try build(scratch, spec, host: HostConfig(defaultType: .pvh, memoryMiB: 512))
            #expect(guest.domain.type.rawValue == type)
            #expect(guest.domain.cmdline == "hello exit=3")
            #expect(guest.domain.kernel == scratch.path + "/rootfs/boot/kernel")
            #expect(guest.domain.ramdisk == nil)
            // The host's memory is for Linux guests; the flavour's default applies.
            #expect(guest.domain.memoryMiB == 32)
            #expect(guest.domain.onCrash == .destroy)
        }
    }

    @Test func explicitSettingsWin() throws {
        let (scratch, spec) = try bundle("pv", annotations: [RunxlAnnotations.memory: "16", RunxlAnnotations.vcpus: "2"])
        let guest = try build(scratch, spec)
        #expect(guest.domain.memoryMiB == 16)
        #expect(guest.domain.vcpus == 2)
    }

    @Test func aTypeTheELFCannotBootIsRefused() throws {
        let (scratch, spec) = try bundle("pv", annotations: [RunxlAnnotations.guestType: "pvh"])
        do {
            _ = try build(scratch, spec)
            Issue.record("PV-only ELF accepted as PVH")
        } catch let error as RunxlError {
            #expect(error.code == .invalidKernel)
            #expect(error.message.contains("pvh"))
        }
    }

    @Test func missingBinaryAndNonXenELF() throws {
        let (scratch, spec) = try bundle("pv", annotations: [UnikernelAnnotations.Runxl.binary: "/boot/missing"])
        do {
            _ = try build(scratch, spec)
            Issue.record("missing binary accepted")
        } catch let error as RunxlError {
            #expect(error.code == .invalidUnikernel)
            #expect(error.message.contains("/boot/missing"))
        }
        try FileSystem.writeAtomically(scratch.path + "/rootfs/boot/true", try FileSystem.read("/bin/true"), mode: 0o755)
        var other = spec
        other.annotations?[UnikernelAnnotations.Runxl.binary] = "/boot/true"
        do {
            _ = try build(scratch, other)
            Issue.record("a host program accepted as a unikernel")
        } catch let error as RunxlError {
            #expect(error.code == .invalidKernel)
            #expect(error.message.contains("without Xen notes"))
        }
    }

    @Test func aSymlinkCannotLeaveTheRootfs() throws {
        let (scratch, spec) = try bundle("pv", annotations: [UnikernelAnnotations.Runxl.binary: "/boot/escape"])
        scratch.symlink("rootfs/boot/escape", to: "../../../../../../bin/true")
        do {
            _ = try build(scratch, spec)
            Issue.record("a symlink out of the rootfs was followed")
        } catch let error as RunxlError {
            #expect(error.code == .invalidUnikernel)
        }
    }

    @Test func convertWritesKernelXlCfgAndDescription() throws {
        let (scratch, spec) = try bundle("pvh")
        var bundleSpec = spec
        bundleSpec.root = Root(path: "rootfs", readonly: true)
        try FileSystem.writeAtomically(scratch.path + "/config.json", Array(try bundleSpec.encoded(pretty: true)))
        let output = scratch.path + "/out"
        let guest = try #require(try UnikernelBuilder().convert(bundle: scratch.path, output: output, domainName: "uk"))
        #expect(guest.domain.kernel == output + "/kernel")
        let config = String(decoding: try FileSystem.read(output + "/xl.cfg"), as: UTF8.self)
        #expect(config.contains("type = \"pvh\"\nkernel = \"\(output)/kernel\"\nextra = \"hello exit=3\"\nmemory = 32\n"))
        #expect(try FileSystem.read(output + "/kernel") == (try FileSystem.read(try TestUnikernels.path("pvh"))))
        let description = String(decoding: try FileSystem.read(output + "/guest.json"), as: UTF8.self)
        #expect(description.contains("\"unikernel\" : \"xen-elf\""))
    }

    @Test func theTestImagesScriptPackagesEveryConvention() throws {
        let scratch = try ScratchDirectory("ukimages")
        try TestUnikernels.run(TestUnikernels.repository + "/Tests/images/make-unikernel-images.sh", [scratch.path])
        let expected: [String: (UnikernelDeclaration.Convention, GuestType)] = [
            "runxl-pv": (.runxl, .pv), "runxl-pvh": (.runxl, .pvh), "urunc-pv": (.uruncAnnotations, .pv),
            "urunc-pvh": (.uruncAnnotations, .pvh), "uruncjson-pv": (.uruncFile, .pv), "kraftkit-pv": (.kraftkit, .pv),
        ]
        for (name, (convention, type)) in expected {
            let layout = scratch.path + "/" + name
            let index = try Index.decode(try FileSystem.read(layout + "/index.json"), documentName: name)
            func blob(_ digest: String) throws -> [UInt8] {
                try FileSystem.read(layout + "/blobs/sha256/" + digest.dropFirst("sha256:".count))
            }
            let manifest = try Manifest.decode(try blob(index.manifests[0].digest), documentName: name)
            let config = try ImageConfig.decode(try blob(manifest.config.digest), documentName: name)
            let rootfs = scratch.path + "/" + name + "-rootfs"
            try FileSystem.makeDirectories(rootfs)
            try TestUnikernels.run("/bin/tar", ["-xzf", layout + "/blobs/sha256/" + manifest.layers[0].digest.dropFirst(7), "-C", rootfs])
            let hints = UnikernelImageHints.annotations(manifest: manifest, config: config)
            let declaration = try #require(try UnikernelRecognizer.recognize(annotations: hints, rootfs: RootfsLookup(rootfs: rootfs)), "\(name)")
            #expect(declaration.convention == convention, "\(name)")
            var spec = Spec.runxlDefault(args: config.config?.cmd ?? [], terminal: false)
            spec.annotations = hints
            let guest = try UnikernelBuilder().build(declaration, spec: spec, rootfs: rootfs, domainName: name)
            #expect(guest.domain.type == type, "\(name)")
            #expect(guest.domain.cmdline.hasSuffix("hello"), "\(name): \(guest.domain.cmdline)")
        }
    }
}
