import Foundation
import ImageStore
import Registry
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

    /// Built by Tests/images/make-archives.sh into a cache keyed by the script's digest, so
    /// test runs share one copy instead of leaving one each (renamed into place when complete).
    static let built: Result<String, any Error> = Result {
        let script = scripts + "/make-archives.sh"
        let key = Digester.digest([UInt8](try Data(contentsOf: URL(fileURLWithPath: script)))).dropFirst(7).prefix(16)
        let directory = NSTemporaryDirectory() + "runxl-image-fixtures-\(key)"
        if FileManager.default.fileExists(atPath: directory + "/truncated/index.json") { return directory }
        let building = directory + ".building-\(getpid())"
        try run(script, [building], timeout: 120)
        if rename(building, directory) != 0 { try? FileManager.default.removeItem(atPath: building) }
        return directory
    }

    static func directory() throws -> String { try built.get() }

    /// Runs a program with a deadline; its standard output comes back, a failure throws with it.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: with many tests spawning at
    /// once, Process sometimes missed a child's exit, and its children inherited a signal mask
    /// with SIGTERM blocked, so servers they started could not be stopped.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], timeout: Double = 60, environment extra: [String: String] = [:]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        environment.merge(extra) { _, new in new }
        let scratch = NSTemporaryDirectory() + "runxl-store-run-\(UUID().uuidString)"
        defer {
            unlink(scratch + ".out")
            unlink(scratch + ".err")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Files, not pipes: a server started in the background would keep a pipe open forever.
        posix_spawn_file_actions_addopen(&actions, 1, scratch + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, scratch + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = (["/usr/bin/env", program] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw RunxlError(.spawnFailed, "cannot start \(program)", cause: SystemCallError("posix_spawn", errno: spawned)) }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { throw RunxlError(.internal, "waitpid for \(program) failed") }
            if Date() > deadline {
                // The whole process group: the script and anything it started and still waits for.
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw RunxlError(.timeout, "\(program) \(arguments.joined(separator: " ")) took more than \(timeout) s")
            }
            usleep(10_000)
        }
        let output = (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        guard exited && (status >> 8) & 0xff == 0 else {
            throw RunxlError(.internal, "\(program) \(arguments.joined(separator: " ")) failed (status \(status)): \(output)\(errors)")
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
