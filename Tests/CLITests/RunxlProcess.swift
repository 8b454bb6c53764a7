import Foundation
import Testing

/// Runs the built `runxl` binary as podman or containerd would: a separate process per verb.
struct RunxlProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The binary under test: `RUNXL_TEST_BINARY`, or the debug build of `runxl-testing` (runxl
    /// with its test seams: the fake hypervisor, kill injection) next to this package.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["RUNXL_TEST_BINARY"] { return path }
        return built("runxl-testing")
    }

    /// The `runxl` users get, without the seams: `RUNXL_BINARY`, or the debug build.
    static var shippedBinary: String {
        if let path = ProcessInfo.processInfo.environment["RUNXL_BINARY"] { return path }
        return built("runxl")
    }

    static func built(_ product: String) -> String {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for directory in [".build/debug/", ".build/x86_64-unknown-linux-gnu/debug/"] {
            let path = packageRoot.appendingPathComponent(directory + product).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/" + product).path
    }

    /// A scratch world: its own --root and fake hypervisor directory, removed by `cleanup()`.
    let directory: String
    var root: String { directory + "/root" }
    var fakeDirectory: String { directory + "/fake" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("runxl-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Ends every container left (their supervisors are processes) and removes the world.
    func cleanup() {
        if let ids = try? run(["list", "--quiet"]).stdout.split(separator: "\n") {
            for id in ids { _ = try? run(["delete", "--force", String(id)]) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["RUNXL_HYPERVISOR"] = "fake"
        env["RUNXL_FAKE_DIR"] = fakeDirectory
        // Every domain gets a console and a FakeGuest: the supervisor's pump, stdin forwarding
        // and exec sessions run as over Xen.
        env["RUNXL_FAKE_CONSOLE"] = "1"
        return env
    }

    /// A started runxl process whose output goes to files: a supervisor spawned by `create`
    /// inherits them and may outlive the verb, so waiting for end-of-file on a pipe would hang.
    struct Running {
        let process: Process
        let stdoutPath: String
        let stderrPath: String

        func wait() -> Result {
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus,
                stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
        }
    }

    /// Starts `runxl --root ROOT ARGS...` without waiting; `input` is its stdin (else /dev/null).
    func start(
        _ arguments: [String], globalFirst: [String] = [], extraEnvironment: [String: String] = [:], binary: String = Self.binary,
        input: String? = nil
    ) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = globalFirst + ["--root", root] + arguments
        process.environment = environment.merging(extraEnvironment) { _, extra in extra }
        let name = UUID().uuidString
        let stdoutPath = directory + "/out-\(name)", stderrPath = directory + "/err-\(name)"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let input {
            let inputPath = directory + "/in-\(name)"
            try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        return Running(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    @discardableResult
    func run(
        _ arguments: [String], globalFirst: [String] = [], extraEnvironment: [String: String] = [:], binary: String = Self.binary,
        input: String? = nil
    ) throws -> Result {
        try start(arguments, globalFirst: globalFirst, extraEnvironment: extraEnvironment, binary: binary, input: input).wait()
    }

    /// The pids of the `FakeGuest` processes of this world's fake hypervisor still running.
    func fakeGuestsRunning() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> Int32? in
            guard let pid = Int32(name),
                let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else { return nil }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains("fake-guest") && words.contains(fakeDirectory) ? pid : nil
        }
    }

    /// Writes a bundle with a rootfs directory and the given process args (and `terminal`).
    func makeBundle(
        _ name: String, args: [String] = ["sh"], terminal: Bool = false, mutate: (inout [String: Any]) -> Void = { _ in }
    ) throws -> String {
        let bundle = directory + "/" + name
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
        var config: [String: Any] = [
            "ociVersion": "1.2.0",
            "root": ["path": "rootfs"],
            "process": ["args": args, "cwd": "/", "env": ["PATH=/bin"], "user": ["uid": 0, "gid": 0], "terminal": terminal],
            "hostname": "test",
        ]
        mutate(&config)
        let data = try JSONSerialization.data(withJSONObject: config)
        try data.write(to: URL(fileURLWithPath: bundle + "/config.json"))
        return bundle
    }

    /// Whether the fake hypervisor still has a domain. Its world file keeps them under
    /// "domains", a dictionary keyed by domain id (JSONEncoder writes non-string keys as a flat
    /// [key, value, ...] array).
    func fakeDomainsRemain() -> Bool {
        guard let data = FileManager.default.contents(atPath: fakeDirectory + "/world.json"),
            let world = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return false }
        if let domains = world["domains"] as? [Any] { return !domains.isEmpty }
        if let domains = world["domains"] as? [String: Any] { return !domains.isEmpty }
        return false
    }

    /// Every file below `--root`, to prove nothing was left behind.
    func filesUnderRoot() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        return enumerator.compactMap { $0 as? String }
    }
}

/// `runxl state ID` as a JSON object, nil when it printed none (a missing container).
func stateObject(_ world: RunxlProcess, _ id: String) throws -> [String: Any]? {
    let result = try world.run(["state", id])
    return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
}

func status(_ world: RunxlProcess, _ id: String) throws -> String? {
    try stateObject(world, id)?["status"] as? String
}

/// Polls `condition` (supervisors end asynchronously) and records an issue if it never holds.
func waitUntil(seconds: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    Issue.record("condition not met within \(seconds) s")
}
