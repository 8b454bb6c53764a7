import Foundation
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `runxl image ...` as a separate process per verb: exit statuses, messages, and several runxl
/// processes using one store at once.
@Suite(.enabled(if: ImageCLIFixtures.toolsPresent, "umoci, skopeo or busybox-static missing: run Scripts/bootstrap"))
struct ImageCLITests {
    func store(_ world: RunxlProcess) -> String { world.directory + "/store" }

    func listing(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).sorted()
            + [(try? String(contentsOfFile: root + "/index.json", encoding: .utf8)) ?? ""]
    }

    @Test func importListInspectRemove() throws {
        let fixtures = try ImageCLIFixtures.directory()
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let imported = try world.run(["image", "import", "--store", store(world), "-q", fixtures + "/busybox-docker.tar"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout == "docker.io/library/busybox:latest\n")
        // The global --store works as well as the action's.
        let listed = try world.run(["image", "ls"], globalFirst: ["--store", store(world)])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("docker.io/library/busybox:latest") && listed.stdout.contains("linux/amd64"))
        let inspected = try world.run(["image", "inspect", "--store", store(world), "busybox"])
        #expect(inspected.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        #expect(object?["name"] as? String == "docker.io/library/busybox:latest")
        #expect((object?["config"] as? [String: Any])?["architecture"] as? String == "amd64")
        let removed = try world.run(["image", "rm", "--store", store(world), "busybox"])
        #expect(removed.status == 0)
        #expect(removed.stdout.contains("freed 3 blobs"), "\(removed.stdout)")
        #expect(try world.run(["image", "ls", "-q", "--store", store(world)]).stdout.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store(world) + "/blobs/sha256").isEmpty)
    }

    @Test func badInputExitsOneAndLeavesTheStoreAlone() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        #expect(try world.run(["image", "ls", "--store", store(world)]).status == 0)
        let before = listing(store(world))
        for (arguments, expected) in [
            (["image", "pull", "--store", store(world), "Not/A:Reference!"], "'Not/A:Reference!'"),
            (["image", "pull", "--store", store(world), "busybox@sha256:abc"], "sha256:abc"),
            (["image", "inspect", "--store", store(world), "nothere"], "docker.io/library/nothere:latest"),
            (["image", "rm", "--store", store(world), "nothere"], "nothere"),
            (["image", "import", "--store", store(world), world.directory + "/missing.tar"], "missing.tar"),
            (["image", "ls", "--store", store(world), "--platform", "linux/amd64"], "--platform does not apply"),
            (["image", "pull", "--store", store(world), "--platform", "linux", "busybox"], "OS/ARCH"),
            (["image", "frobnicate"], "unknown action 'frobnicate'"),
        ] {
            let result = try world.run(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        #expect(listing(store(world)) == before)
    }

    /// A pull from a registry that is not there fails with the URL, quickly, the store unchanged.
    @Test func unreachableRegistry() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        #expect(try world.run(["image", "ls", "--store", store(world)]).status == 0)
        let before = listing(store(world))
        // A port nobody listens on: bind, read the number, close.
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        close(socket)
        let result = try world.run(["image", "pull", "--store", store(world), "127.0.0.1:\(port)/app:1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("http://127.0.0.1:\(port)/v2/app/manifests/1"), "\(result.stderr)")
        #expect(listing(store(world)) == before)
    }

    /// Several runxl processes import into one store at once: every name lands, nothing is left
    /// in tmp/, and the index stays valid JSON.
    @Test func concurrentImportsIntoOneStore() throws {
        let fixtures = try ImageCLIFixtures.directory()
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let sources = ["/layout", "/busybox-oci.tar", "/busybox-docker.tar", "/multi", "/layout", "/busybox-docker.tar"]
        let running = try sources.enumerated().map { number, source in
            try world.start(["image", "import", "-q", "--store", store(world), "--name", "parallel/image\(number):v1", fixtures + source])
        }
        for result in running.map({ $0.wait() }) { #expect(result.status == 0, "\(result.stderr)") }
        let names = try world.run(["image", "ls", "-q", "--store", store(world)]).stdout.split(separator: "\n").map(String.init)
        #expect(names == (0..<sources.count).map { "docker.io/parallel/image\($0):v1" })
        #expect(try FileManager.default.contentsOfDirectory(atPath: store(world) + "/tmp").isEmpty)
        let index = try Data(contentsOf: URL(fileURLWithPath: store(world) + "/index.json"))
        #expect(((try JSONSerialization.jsonObject(with: index) as? [String: Any])?["manifests"] as? [Any])?.count == sources.count)
    }

    @Test func unpackGivesTheRootfs() throws {
        let fixtures = try ImageCLIFixtures.directory()
        let world = try RunxlProcess()
        defer { world.cleanup() }
        #expect(try world.run(["image", "import", "-q", "--store", store(world), fixtures + "/layout"]).status == 0)
        let target = world.directory + "/rootfs"
        let result = try world.run(["image", "unpack", "--store", store(world), "localhost/layout", target])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.isExecutableFile(atPath: target + "/bin/busybox"))
        let again = try world.run(["image", "unpack", "--store", store(world), "localhost/layout", target])
        #expect(again.status == 1 && again.stderr.contains("not empty"))
    }

    /// A layer blob that matches its descriptor but not the config's diff_id
    /// (Tests/images/make-tampered-layer.py): `image unpack` exits 1 with code 502 and leaves
    /// neither DIR nor anything in the store; the good image of the same layout unpacks.
    @Test func unpackRefusesALayerThatDoesNotInflateToItsDiffID() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let layout = world.directory + "/layout"
        let script = ImageCLIFixtures.repository + "/Tests/images/make-tampered-layer.py"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", script, layout]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        #expect(try world.run(["image", "import", "-q", "--store", store(world), layout]).status == 0)
        let before = listing(store(world))
        let target = world.directory + "/rootfs"
        let refused = try world.run(
            ["image", "unpack", "--store", store(world), "localhost/layout:tampered", target], globalFirst: ["--log-format", "json"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("diff_id") && refused.stderr.contains(#""code":502"#), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(listing(store(world)) == before)
        let good = try world.run(["image", "unpack", "--store", store(world), "localhost/layout:good", target])
        #expect(good.status == 0, "\(good.stderr)")
    }
}

enum ImageCLIFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let toolsPresent: Bool = ["umoci", "skopeo", "python3"].allSatisfy { tool in
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
    } && FileManager.default.fileExists(atPath: "/bin/busybox")

    /// Tests/images/make-archives.sh into the same script-keyed cache as ImageStoreTests'
    /// (renamed into place when complete, so test runs share one copy).
    static let built: Result<String, any Error> = Result {
        let script = repository + "/Tests/images/make-archives.sh"
        let key = sha256Hex(try Data(contentsOf: URL(fileURLWithPath: script))).prefix(16)
        let directory = NSTemporaryDirectory() + "runxl-image-fixtures-\(key)"
        if FileManager.default.fileExists(atPath: directory + "/truncated/index.json") { return directory }
        let building = directory + ".building-\(getpid())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [building]
        let log = building + ".log"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "make-archives.sh failed"])
        }
        if rename(building, directory) != 0 { try? FileManager.default.removeItem(atPath: building) }
        return directory
    }

    static func sha256Hex(_ data: Data) -> String {
        var hasher = SHA256()
        hasher.update([UInt8](data))
        return hasher.finalizeHex()
    }

    static func directory() throws -> String { try built.get() }
}
