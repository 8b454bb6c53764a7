import Foundation
import ImageStore
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Fixtures, scratch stores and local registries for the image store tests.
enum StoreFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let scripts = repository + "/Tests/images"

    static func tool(_ name: String) -> Bool {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }

    /// umoci and skopeo build the fixtures; Scripts/bootstrap installs them.
    static let fixtureToolsPresent = tool("umoci") && tool("skopeo") && tool("python3") && FileManager.default.fileExists(atPath: "/bin/busybox")
    static let registryPresent = fixtureToolsPresent && tool("docker-registry") && tool("openssl") && tool("curl")

    /// Built once per test process by Tests/images/make-archives.sh.
    static let built: Result<String, any Error> = Result {
        let directory = NSTemporaryDirectory() + "runxl-store-fixtures-\(getpid())"
        try run(scripts + "/make-archives.sh", [directory], timeout: 120)
        return directory
    }

    static func directory() throws -> String { try built.get() }

    /// Runs a program with a deadline; its standard output comes back, a failure throws with it.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], timeout: Double = 60, environment extra: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let scratch = NSTemporaryDirectory() + "runxl-store-run-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: scratch + ".out", contents: nil)
        FileManager.default.createFile(atPath: scratch + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: scratch + ".out")
            try? FileManager.default.removeItem(atPath: scratch + ".err")
        }
        // Files, not pipes: a server started in the background keeps a pipe open forever.
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + ".err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw RunxlError(.timeout, "\(program) \(arguments.joined(separator: " ")) took more than \(timeout) s")
        }
        let output = (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw RunxlError(.internal, "\(program) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(output)\(errors)")
        }
        return output
    }

    /// Every path in a store with its size: equal before and after means the store did not change.
    static func listing(_ root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var lines: [String] = []
        for case let path as String in walker {
            let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let isDirectory = (attributes?[.type] as? FileAttributeType) == .typeDirectory
            lines.append("\(path) \(isDirectory ? "dir" : String(size))")
        }
        return lines.sorted() + [(try? String(contentsOfFile: root + "/index.json", encoding: .utf8)) ?? ""]
    }

    /// Copies a fixture so that a test may damage it.
    static func copy(_ source: String, to target: String) throws {
        try run("cp", ["-a", source, target])
    }
}

/// A scratch directory (and store) removed when the test ends.
final class StoreScratch {
    let path: String
    var storeRoot: String { path + "/store" }

    init() throws {
        path = NSTemporaryDirectory() + "runxl-store-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func store() throws -> ContentStore { try ContentStore(root: storeRoot) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A registry process (docker-registry or the fake one) for one test; stopped by `stop()` or deinit.
final class LocalRegistry {
    let state: String
    let port: String

    /// docker-registry, optionally with token auth for USER:PASSWORD.
    init(token: String? = nil) throws {
        state = NSTemporaryDirectory() + "runxl-registry-\(UUID().uuidString)"
        do {
            port = try StoreFixtures.run(
                StoreFixtures.scripts + "/registry.sh", ["start", state] + (token.map { ["--token", $0] } ?? []), timeout: 30
            ).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            _ = try? StoreFixtures.run(StoreFixtures.scripts + "/registry.sh", ["stop", state], timeout: 20)
            throw error
        }
    }

    /// The misbehaving registry serving `layout`.
    init(fakeServing layout: String) throws {
        state = NSTemporaryDirectory() + "runxl-fake-\(UUID().uuidString)"
        do {
            port = try StoreFixtures.run(StoreFixtures.scripts + "/registry.sh", ["fake", state, layout], timeout: 30)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            _ = try? StoreFixtures.run(StoreFixtures.scripts + "/registry.sh", ["stop", state], timeout: 20)
            throw error
        }
    }

    var host: String { "127.0.0.1:\(port)" }

    func push(_ source: String, as name: String, creds: String? = nil) throws {
        try StoreFixtures.run(
            StoreFixtures.scripts + "/registry.sh", ["push", state, source, name] + (creds.map { ["--creds", $0] } ?? []), timeout: 120)
    }

    func stop() {
        _ = try? StoreFixtures.run(StoreFixtures.scripts + "/registry.sh", ["stop", state], timeout: 20)
        try? FileManager.default.removeItem(atPath: state)
    }

    deinit { stop() }
}
