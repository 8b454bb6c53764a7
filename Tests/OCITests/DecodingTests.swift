import Foundation
import OCI
import RunxlBase
import Testing

@Suite struct DecodingTests {
    func configError(_ json: String) -> String? {
        let error = #expect(throws: RunxlError.self) { try Spec.decode(Array(json.utf8)) }
        #expect(error?.code == .invalidConfig)
        return error?.message
    }

    @Test func requiredFieldsAreNamed() {
        #expect(configError(#"{"root": {"path": "rootfs"}}"#) == "config.json: ociVersion: required field is missing")
        #expect(configError(#"{"ociVersion": "1.0.0", "process": {"args": ["sh"]}}"#) == "config.json: process.cwd: required field is missing")
        #expect(configError(#"{"ociVersion": "1.0.0", "vm": {}}"#) == "config.json: vm.kernel: required field is missing")
        #expect(configError(#"{"ociVersion": "1.0.0", "windows": {"layerFolders": []}}"#)
            == "config.json: windows.layerFolders: must list at least one folder")
    }

    @Test func typeAndRangeErrorsNameTheField() throws {
        #expect(configError(#"{"ociVersion": "1", "linux": {"resources": {"rdma": {"mlx5_1": {"hcaHandles": 4294967296}}}}}"#)
            == "config.json: linux.resources.rdma.mlx5_1.hcaHandles: expected an integer in 0...4294967295, found 4294967296")
        #expect(configError(#"{"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": -1}}}"#)
            == "config.json: process.user.uid: expected an integer in 0...4294967295, found -1")
        #expect(configError(#"{"ociVersion": "1", "process": {"cwd": "/", "args": ["sh", 1.5]}}"#)
            == "config.json: process.args[1]: expected a string, found a number")
        #expect(configError(#"{"ociVersion": "1", "linux": {"sysctl": {"net.ipv4.ip_forward": 1}}}"#)
            == #"config.json: linux.sysctl["net.ipv4.ip_forward"]: expected a string, found a number"#)
        #expect(try Spec.decode(Array(#"{"ociVersion": "1", "root": null}"#.utf8)).root == nil)  // null is absence, as in Go
        #expect(configError(#"{"ociVersion": "1", "root": {"path": null}}"#) == "config.json: root.path: expected a string, found null")
        #expect(configError(#"{"ociVersion": "1", "mounts": {}}"#) == "config.json: mounts: expected an array, found an object")
        #expect(configError(#"[]"#) == "config.json: expected an object, found an array")
    }

    @Test func schemaEnumsAndPatterns() {
        #expect(configError(#"{"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "net"}]}}"#)
            == #"config.json: linux.namespaces[1].type: "net" is not one of "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time""#)
        #expect(configError(#"{"ociVersion": "1", "process": {"cwd": "/", "rlimits": [{"type": "NOFILE", "hard": 1, "soft": 1}]}}"#)
            == #"config.json: process.rlimits[0].type: "NOFILE" does not match ^RLIMIT_[A-Z]+$ (for example RLIMIT_NOFILE)"#)
        #expect(configError(#"{"ociVersion": "1", "linux": {"devices": [{"type": "x", "path": "/dev/x"}]}}"#)
            == #"config.json: linux.devices[0].type: "x" does not match ^[cbup]$ (for example c)"#)
        #expect(configError(#"{"ociVersion": "1", "linux": {"devices": [{"type": "c", "path": "/dev/x", "fileMode": 4095}]}}"#)
            == "config.json: linux.devices[0].fileMode: 4095 is not a permission mode: give it in decimal, 0 to 511 (0o777)")
        #expect(configError(#"{"ociVersion": "1", "hooks": {"poststart": [{"path": "/x", "timeout": 0}]}}"#)
            == "config.json: hooks.poststart[0].timeout: must be at least 1 second, found 0")
        #expect(configError(#"{"ociVersion": "1", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}}}"#)
            == "config.json: linux.seccomp.syscalls[0].names: must name at least one system call")
        #expect(configError(#"{"ociVersion": "1", "linux": {"intelRdt": {"memBwSchema": "L3:0=1"}}}"#)
            == #"config.json: linux.intelRdt.memBwSchema: "L3:0=1" does not match ^MB:[^\n]*$ (for example MB:0=70)"#)
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        #expect(configError("{\n  \"ociVersion\": \"1\",\n}") == "config.json: not valid JSON: line 3, column 1: expected a quoted member name, found '}'")
        #expect(configError("") == "config.json: not valid JSON: line 1, column 1: the document is empty")
        #expect(configError(#"{"ociVersion": "1"} x"#) == "config.json: not valid JSON: line 1, column 21: unexpected 'x' after the end of the document")
        #expect(configError(#"{"ociVersion": "1\u0"}"#) == "config.json: not valid JSON: line 1, column 21: expected four hex digits after \\u, found '\"'")
        #expect(configError(#"{"ociVersion": 01}"#) == "config.json: not valid JSON: line 1, column 17: expected ',' or '}' in an object, found '1'")
        #expect(configError(String(repeating: "[", count: 600)) == "config.json: not valid JSON: line 1, column 513: nesting deeper than 512 levels")
    }

    /// A number that cannot be written back (found by Scripts/fuzz) is refused when read, with
    /// its position, instead of failing later when runxl writes the config out.
    @Test func numbersOutOfRangeAreRefusedWhenRead() throws {
        let message = configError(#"{"ociVersion": "1", "windows": {"credentialSpec": {"x": 1e999}}}"#) ?? ""
        #expect(message.hasPrefix("config.json: not valid JSON: line 1, column "), "\(message)")
        #expect(message.hasSuffix("number 1e999 is out of range"), "\(message)")
        // Huge integers and ordinary exponents still pass.
        _ = try Spec.decode(Array(#"{"ociVersion": "1", "windows": {"layerFolders": ["l"], "credentialSpec": {"x": 1e308, "y": 99999999999999999999}}}"#.utf8))
    }

    @Test func numbersAndStringsSurviveExactly() throws {
        let json = #"{"ociVersion": "1\u00e9\ud83d\ude00\n", "linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 18446744073709551615}], "cpu": {"quota": -9223372036854775808, "period": 1e3}}}}"#
        let spec = try Spec.decode(Array(json.utf8))
        #expect(spec.ociVersion == "1é😀\n")
        #expect(spec.linux?.resources?.hugepageLimits?.first?.limit == UInt64.max)
        #expect(spec.linux?.resources?.cpu?.quota == Int64.min)
        #expect(spec.linux?.resources?.cpu?.period == 1000)
    }

    @Test func documentNameIsTheCallersChoice() {
        let error = #expect(throws: RunxlError.self) { try Spec.decode(Array("{".utf8), documentName: "/b/config.json") }
        #expect(error?.message.hasPrefix("/b/config.json: not valid JSON") == true)
    }

    @Test func unknownFieldsAreIgnoredAsTheSpecRequires() throws {
        let spec = try Spec.decode(Array(#"{"ociVersion": "1", "future": {"x": 1}, "root": {"path": "r", "new": true}}"#.utf8))
        #expect(spec.root == Root(path: "r"))
    }

    @Test func stateAndFeaturesRequiredFields() {
        let state = #expect(throws: RunxlError.self) { try State.decode(Array(#"{"ociVersion": "1", "id": "a", "status": "running"}"#.utf8)) }
        #expect(state?.message == "state.json: bundle: required field is missing")
        let status = #expect(throws: RunxlError.self) {
            try State.decode(Array(#"{"ociVersion": "1", "id": "a", "status": "paused", "bundle": "/b"}"#.utf8))
        }
        #expect(status?.message == #"state.json: status: "paused" is not one of "creating", "created", "running", "stopped""#)
        let pid = #expect(throws: RunxlError.self) {
            try State.decode(Array(#"{"ociVersion": "1", "id": "a", "status": "running", "bundle": "/b", "pid": -2}"#.utf8))
        }
        #expect(pid?.message == "state.json: pid: must not be negative, found -2")
        let capability = #expect(throws: RunxlError.self) {
            try Features.decode(Array(#"{"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"capabilities": ["KILL"]}}"#.utf8))
        }
        #expect(capability?.message == #"features: linux.capabilities[0]: "KILL" does not match ^CAP_[A-Z_]+$ (for example CAP_KILL)"#)
    }

    @Test func encodingSortsKeysAndOmitsNil() throws {
        let spec = Spec(ociVersion: "1.3.0", root: Root(path: "rootfs"), hostname: "h")
        let text = String(decoding: try spec.encoded(pretty: false), as: UTF8.self)
        #expect(text == #"{"hostname":"h","ociVersion":"1.3.0","root":{"path":"rootfs"}}"#)
    }

    @Test func differenceFinderCatchesLossAndBooleans() {
        #expect(firstDifference(["a": 1, "b": [true]], ["a": 1]) == ".b: lost")
        #expect(firstDifference(["b": [true]], ["b": [1]]) != nil)
        #expect(firstDifference(["b": [1, "x"]], ["b": [1, "x"]]) == nil)
    }

    @Test func load() throws {
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("oci-load-\(getpid())")
        try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bundle) }
        let missing = #expect(throws: RunxlError.self) { try Spec.load(bundle: bundle.path) }
        #expect(missing?.code == .bundleNotFound)
        #expect(missing?.message == "\(bundle.path)/config.json does not exist")
        try Spec.runxlDefault().encoded().write(to: bundle.appendingPathComponent("config.json"))
        #expect(try Spec.load(bundle: bundle.path) == Spec.runxlDefault())
    }
}
