import Foundation
import OCI
import RunxlBase
import Testing

@Suite struct DefaultsTests {
    @Test func defaultSpecIsValidAgainstTheSchema() throws {
        #expect(try schemaViolations(of: Spec.runxlDefault().encoded(), schema: "config-schema.json") == [])
        #expect(try schemaViolations(of: Spec.runxlDefault(args: ["/bin/app", "-x"], terminal: false).encoded(), schema: "config-schema.json") == [])
    }

    @Test func featuresAreValidAgainstTheSchema() throws {
        #expect(try schemaViolations(of: Features.runxl.encoded(), schema: "features-schema.json") == [])
        let released = Features.runxl(version: "0.1.0", commit: "abc123")
        #expect(try schemaViolations(of: released.encoded(), schema: "features-schema.json") == [])
        #expect(released.annotations == ["org.runxl.version": "0.1.0", "org.runxl.commit": "abc123"])
        #expect(try Features.decode(released.encoded()) == released)
    }

    /// The harness must be able to fail: a features document without ociVersionMax is refused.
    @Test func schemaHarnessRejectsInvalidDocuments() throws {
        let violations = try schemaViolations(of: Data(#"{"ociVersionMin": "1.0.0"}"#.utf8), schema: "features-schema.json")
        #expect(violations.contains { $0.contains("'ociVersionMax' is a required property") })
    }

    @Test func defaultSpecMatchesRuncSpecShape() throws {
        let spec = Spec.runxlDefault()
        #expect(spec.ociVersion == "1.3.0")
        #expect(spec.process?.terminal == true)
        #expect(spec.process?.args == ["sh"])
        #expect(spec.process?.cwd == "/")
        #expect(spec.process?.env?.count == 2)
        #expect(spec.root == Root(path: "rootfs", readonly: true))
        #expect(spec.hostname == "runxl")
        #expect(spec.mounts?.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"])
        #expect(spec.linux?.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .cgroup])
        #expect(spec.linux?.maskedPaths?.contains("/proc/kcore") == true)
        #expect(spec.linux?.readonlyPaths?.contains("/proc/sys") == true)
    }
}

@Suite struct CreateValidationTests {
    func bundle(_ name: String, rootfs: Bool = true) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("oci-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        if rootfs { try FileManager.default.createDirectory(at: url.appendingPathComponent("rootfs"), withIntermediateDirectories: true) }
        return url
    }

    @Test func defaultSpecPassesAndResolvesRootfs() throws {
        let url = try bundle("ok")
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try Spec.runxlDefault().validateForCreate(bundle: url.path) == url.path + "/rootfs")
    }

    @Test func missingPiecesAreNamed() throws {
        let url = try bundle("bad")
        defer { try? FileManager.default.removeItem(at: url) }
        func message(_ change: (inout Spec) -> Void) -> String? {
            var spec = Spec.runxlDefault()
            change(&spec)
            return (#expect(throws: RunxlError.self) { try spec.validateForCreate(bundle: url.path) })?.message
        }
        #expect(message { $0.process = nil }
            == "config.json: process: required to create a container (runxl spec writes a complete config.json)")
        #expect(message { $0.process?.args = [] } == "config.json: process.args: must name the program to run (it is missing or empty)")
        #expect(message { $0.process?.args = nil } == "config.json: process.args: must name the program to run (it is missing or empty)")
        #expect(message { $0.process?.cwd = "srv" } == #"config.json: process.cwd: must be an absolute path, found "srv""#)
        #expect(message { $0.process?.env = ["A=1", "NOVALUE"] }
            == #"config.json: process.env[1]: must be KEY=value, found an entry named "NOVALUE" without one"#)
        #expect(message { $0.root = nil }
            == "config.json: root.path: required to create a container: the directory holding the container's files")
        #expect(message { $0.root?.path = "missing" }
            == "config.json: root.path: the root filesystem \(url.path)/missing is not a directory")
        var spec = Spec.runxlDefault()
        spec.root?.path = "missing"
        let error = #expect(throws: RunxlError.self) { try spec.validateForCreate(bundle: url.path) }
        #expect(error?.code == .bundleNotFound)
    }

    @Test func absoluteRootIsUsedAsIs() {
        var spec = Spec.runxlDefault()
        spec.root?.path = "/var/lib/x"
        #expect(spec.rootfsPath(bundle: "/b") == "/var/lib/x")
        spec.root?.path = "rootfs"
        #expect(spec.rootfsPath(bundle: "/b/") == "/b/rootfs")
    }
}

@Suite struct RedactionTests {
    @Test func environmentValuesNeverAppearInDescriptions() throws {
        let spec = try Spec.decode(fixture("runxl/config-all-fields.json"))
        let process = try #require(spec.process)
        for text in [process.description, process.debugDescription, "\(process)", String(describing: spec), String(reflecting: spec)] {
            #expect(!text.contains("hunter2"))
            #expect(!text.contains("/usr/bin:/bin"))
        }
        #expect(process.description.contains("SECRET_TOKEN=<redacted>"))
        #expect(process.description.contains("cwd: /srv"))
        var dumped = ""
        dump(spec, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        let hook = try #require(spec.hooks?.createRuntime?.first)
        #expect(hook.description == #"Hook(path: /bin/hook, args: ["hook", "create"], env: ["A=<redacted>"], timeout: 3)"#)
    }
}
