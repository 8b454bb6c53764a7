import Foundation
import GuestProtocol
import Testing

/// Runs the static runxl-init binary on this machine in its test mode (not PID 1: no mounts,
/// frames on stdout, a state directory instead of xenstore) and decodes what it writes with the
/// host-side decoder. Build it first with `Scripts/build-init`, or point RUNXL_INIT_BINARY at it.
@Suite(.serialized, .enabled(if: InitBinary.path != nil, "runxl-init not built: run Scripts/build-init"))
struct InitBinaryTests {
    @Test func stdoutStderrAndExitCode() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["sh", "-c", "echo out; echo err >&2; exit 3"], env: InitBinary.path_))
        #expect(run.stdout == "out\n")
        #expect(run.stderr == "err\n")
        #expect(run.exitFrame == .exited(3))
        #expect(run.exitFile == .exited(3))
        #expect(run.terminationStatus == 3)
        #expect(run.unframed.isEmpty)
        #expect(run.readyPID != nil)
    }

    @Test func missingProgramExits127WithADiagnostic() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["no-such-program"], env: InitBinary.path_))
        #expect(run.exitFrame == .exited(127))
        #expect(run.diagnostics.contains("exec: \"no-such-program\": executable file not found in $PATH"))
        #expect(run.stdout.isEmpty && run.stderr.isEmpty)
        #expect(run.readyPID == nil)
    }

    @Test func nonExecutableFileExits126() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["/etc/hostname"], env: InitBinary.path_))
        #expect(run.exitFrame == .exited(126))
    }

    @Test func noPathInTheProcessEnvironmentMeansNoLookup() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["sh", "-c", "true"], env: []))
        #expect(run.exitFrame == .exited(127))
    }

    @Test func invalidProcessFileIsAFailedStatus() throws {
        let run = try InitBinary.run(rawProcessFile: Array(#"{"version":1,"args":[]}"#.utf8))
        guard case .failed(let message) = run.exitFrame else {
            Issue.record("expected failed:, got \(String(describing: run.exitFrame))")
            return
        }
        #expect(message.contains("process.args is empty"))
        #expect(run.terminationStatus == 127)
    }

    @Test func killedBySignal() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["sh", "-c", "kill -9 $$"], env: InitBinary.path_))
        #expect(run.exitFrame == .signaled(9))
        #expect(run.terminationStatus == 137)
    }

    @Test func processSettings() throws {
        let description = ProcessDescription(
            args: ["sh", "-c", "ulimit -n; umask; pwd; echo $HOME; echo $FOO; id -u"],
            env: InitBinary.path_ + ["FOO=bar baz"], cwd: "/tmp",
            user: .init(uid: 0, gid: 0, umask: 0o077),
            rlimits: [.init(type: "RLIMIT_NOFILE", soft: 100, hard: 200)])
        let run = try InitBinary.run(description)
        #expect(run.stdout == "100\n0077\n/tmp\n/root\nbar baz\n0\n")
        #expect(run.exitFrame == .exited(0))
    }

    @Test func seccompProfileIsEnforced() throws {
        let directory = "/tmp/runxl-init-seccomp-\(getpid())"
        let description = ProcessDescription(
            args: ["sh", "-c", "mkdir \(directory) 2>/dev/null; echo $?; echo still running"],
            env: InitBinary.path_, noNewPrivileges: true,
            seccomp: SeccompProfile(
                defaultAction: .allow, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                syscalls: [SeccompRule(names: ["mkdir", "mkdirat", "not_a_syscall"], action: .errno, errnoRet: 13)]))
        let run = try InitBinary.run(description)
        #expect(run.stdout == "1\nstill running\n")
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(run.exitFrame == .exited(0))
    }

    @Test func noNewPrivilegesIsSet() throws {
        let run = try InitBinary.run(
            ProcessDescription(args: ["sh", "-c", "grep NoNewPrivs /proc/self/status"], env: InitBinary.path_, noNewPrivileges: true))
        #expect(run.stdout.contains("NoNewPrivs:\t1"))
    }

    /// As under runc, a uid 0 process regains its whole bounding set at exec; a non-root one keeps
    /// only its ambient capabilities, so that is what shows the sets were applied.
    @Test func capabilitiesAreAppliedAcrossTheUserSwitch() throws {
        let run = try InitBinary.run(
            ProcessDescription(
                args: ["sh", "-c", "id -u; grep -E '^Cap(Eff|Bnd)' /proc/self/status"], env: InitBinary.path_,
                user: .init(uid: 1000, gid: 1000, additionalGids: [1000]),
                capabilities: .init(
                    bounding: ["CAP_KILL", "CAP_CHOWN", "CAP_NOT_A_CAP"], effective: ["CAP_KILL"], inheritable: ["CAP_KILL"],
                    permitted: ["CAP_KILL"], ambient: ["CAP_KILL"])))
        #expect(run.stdout == "1000\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000021\n")
        #expect(run.diagnostics.contains("ignoring unknown capability CAP_NOT_A_CAP"))
    }

    /// `runxl spec` (like `runc spec`) lists ambient capabilities but no inheritable ones; the
    /// kernel refuses such a raise, and the process must still start, as it does under runc.
    @Test func ambientWithoutInheritableIsSkipped() throws {
        let run = try InitBinary.run(
            ProcessDescription(
                args: ["sh", "-c", "echo started"], env: InitBinary.path_,
                capabilities: .init(
                    bounding: ["CAP_KILL", "CAP_AUDIT_WRITE"], effective: ["CAP_KILL", "CAP_AUDIT_WRITE"],
                    permitted: ["CAP_KILL", "CAP_AUDIT_WRITE"], ambient: ["CAP_KILL", "CAP_AUDIT_WRITE"])))
        #expect(run.stdout == "started\n")
    }

    @Test func rootGetsItsBoundingSet() throws {
        let run = try InitBinary.run(
            ProcessDescription(
                args: ["sh", "-c", "grep -E '^CapEff' /proc/self/status"], env: InitBinary.path_,
                capabilities: .init(bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"])))
        #expect(run.stdout == "CapEff:\t0000000000000021\n")
    }

    @Test func largeOutputArrivesWhole() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["head", "-c", "300000", "/dev/zero"], env: InitBinary.path_))
        #expect(run.stdoutBytes.count == 300_000)
        #expect(run.stdoutBytes.allSatisfy { $0 == 0 })
    }

    @Test func backgroundProcessesDoNotKeepInitAlive() throws {
        let start = Date()
        let run = try InitBinary.run(ProcessDescription(args: ["sh", "-c", "sleep 30 & echo started"], env: InitBinary.path_))
        #expect(run.stdout == "started\n")
        #expect(run.exitFrame == .exited(0))
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func signalRequestsAreDeliveredOnce() throws {
        let script = "trap 'echo usr1' USR1; trap 'echo term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
        let run = try InitBinary.run(
            ProcessDescription(args: ["sh", "-c", script], env: InitBinary.path_),
            signals: ["1:10", "1:10", "2:15"])
        #expect(run.stdout == "ready\nusr1\nterm\n")
        #expect(run.exitFrame == .exited(0))
    }

    /// runc's create/start split: the process exists (ready names it) but runs only after start.
    @Test func aHeldProcessRunsOnlyAfterStart() throws {
        let marker = Self.markerPath()
        defer { try? FileManager.default.removeItem(atPath: marker) }
        var ranBeforeStart = true
        var answeredBeforeStart = true
        let run = try InitBinary.run(
            ProcessDescription(args: ["sh", "-c", "touch \(marker); echo ran"], env: InitBinary.path_), heldUntilStart: true
        ) { directory in
            ranBeforeStart = FileManager.default.fileExists(atPath: marker)
            answeredBeforeStart = FileManager.default.fileExists(atPath: directory.appendingPathComponent("started").path)
        }
        #expect(!ranBeforeStart)
        #expect(!answeredBeforeStart)
        #expect(run.started == GuestReport.started(execSucceeded: true).value)
        #expect(run.readyPID != nil)
        #expect(run.stdout == "ran\n")
        #expect(run.exitFrame == .exited(0))
    }

    /// runtime-tools' process_oom_score_adj: the process starts with the spec's score.
    @Test func oomScoreAdjIsSetBeforeTheExec() throws {
        let run = try InitBinary.run(
            ProcessDescription(args: ["cat", "/proc/self/oom_score_adj"], env: InitBinary.path_, oomScoreAdj: 500))
        #expect(run.stdout == "500\n")
        #expect(run.exitFrame == .exited(0))
    }

    /// start came while the guest was booting: init finds `go` before it makes the process,
    /// runs it at once, and still answers, or start would wait its whole bound for nothing.
    @Test func aStartGivenBeforeInitLookedIsAnswered() throws {
        let run = try InitBinary.run(
            ProcessDescription(args: ["sh", "-c", "echo ran"], env: InitBinary.path_), startAlreadyGiven: true)
        #expect(run.started == GuestReport.started(execSucceeded: true).value)
        #expect(run.stdout == "ran\n")
        let failed = try InitBinary.run(ProcessDescription(args: ["/no/such/program"]), startAlreadyGiven: true)
        #expect(failed.started == GuestReport.started(execSucceeded: false).value)
    }

    @Test func aHeldProcessWhoseExecFailsAnswersFailed() throws {
        let run = try InitBinary.run(ProcessDescription(args: ["/no/such/program"]), heldUntilStart: true)
        #expect(run.started == GuestReport.started(execSucceeded: false).value)
        #expect(run.exitFrame == .exited(127))
    }

    @Test func aSignalBeforeStartEndsTheHeldProcess() throws {
        let marker = Self.markerPath()
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let run = try InitBinary.run(
            ProcessDescription(args: ["sh", "-c", "touch \(marker)"], env: InitBinary.path_), heldUntilStart: true
        ) { directory in
            let writer = try FileHandle(forWritingTo: directory.appendingPathComponent("signal"))
            writer.write(Data("1:15\n".utf8))
            try writer.close()
            usleep(300_000)
        }
        #expect(run.exitFrame == .signaled(15))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// A file a held process would create once it runs: its absence says it has not.
    private static func markerPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("runxl-held-\(UUID().uuidString)").path
    }

    @Test func untrappedSignalKills() throws {
        let run = try InitBinary.run(
            ProcessDescription(args: ["sleep", "30"], env: InitBinary.path_), signals: ["5:15"])
        #expect(run.exitFrame == .signaled(15))
        #expect(run.exitFile == .signaled(15))
    }
}

/// One run of the binary and what came out of it.
struct InitRun {
    var events: [ConsoleEvent] = []
    var terminationStatus: Int32 = -1
    var exitFile: GuestExitStatus?
    var readyPID: Int?
    /// What init wrote to `started` when the held process passed the gate.
    var started: String?

    private func bytes(of stream: ConsoleStream) -> [UInt8] {
        events.flatMap { event -> [UInt8] in
            if case .frame(let s, let payload) = event, s == stream { return payload }
            return []
        }
    }

    var stdoutBytes: [UInt8] { bytes(of: .stdout) }
    var stdout: String { String(decoding: bytes(of: .stdout), as: UTF8.self) }
    var stderr: String { String(decoding: bytes(of: .stderr), as: UTF8.self) }
    var diagnostics: String { String(decoding: bytes(of: .diagnostics), as: UTF8.self) }
    var exitFrame: GuestExitStatus? { try? GuestExitStatus.decode(String(decoding: bytes(of: .exit), as: UTF8.self)) }
    var unframed: [UInt8] {
        events.flatMap { event -> [UInt8] in
            if case .unframed(let bytes) = event { return bytes }
            return []
        }
    }
}

enum InitBinary {
    static let path_ = ["PATH=/usr/local/bin:/usr/bin:/bin"]

    static let path: String? = {
        if let explicit = ProcessInfo.processInfo.environment["RUNXL_INIT_BINARY"] { return explicit }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidate = root.appendingPathComponent(".build-init/runxl-init").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    static func run(
        _ description: ProcessDescription, signals: [String] = [], heldUntilStart: Bool = false,
        startAlreadyGiven: Bool = false, whileHeld: (URL) throws -> Void = { _ in }
    ) throws -> InitRun {
        try run(
            rawProcessFile: description.encoded(), signals: signals, heldUntilStart: heldUntilStart,
            startAlreadyGiven: startAlreadyGiven, whileHeld: whileHeld)
    }

    /// `signals` are written once the process is ready; with `heldUntilStart` (the `start` file
    /// says `wait`), `whileHeld` runs with the state directory before the `start` line is sent,
    /// and the signals after it.
    /// `startAlreadyGiven`: the `start` file says `go` before init looks, as when `start` ran
    /// while the guest was still booting.
    static func run(
        rawProcessFile: [UInt8], signals: [String] = [], heldUntilStart: Bool = false,
        startAlreadyGiven: Bool = false, whileHeld: (URL) throws -> Void = { _ in }
    ) throws -> InitRun {
        let binary = try #require(path)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runxl-init-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let processFile = directory.appendingPathComponent("process")
        try Data(rawProcessFile).write(to: processFile)
        let fifo = directory.appendingPathComponent("signal").path
        let requests = (heldUntilStart ? ["start"] : []) + signals
        if !requests.isEmpty { #expect(mkfifo(fifo, 0o600) == 0) }
        if heldUntilStart { try Data("wait".utf8).write(to: directory.appendingPathComponent("start")) }
        if startAlreadyGiven { try Data("go".utf8).write(to: directory.appendingPathComponent("start")) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.environment = [
            "RUNXL_INIT_TEST": "1", "RUNXL_INIT_PROCESS": processFile.path, "RUNXL_INIT_STATE_DIR": directory.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()

        if !requests.isEmpty {
            // Wait for the process to start and announce itself before signalling.
            let ready = directory.appendingPathComponent("ready").path
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { usleep(10_000) }
            usleep(300_000)
            if heldUntilStart { try whileHeld(directory) }
            // Non-blocking: a process that already ended (killed while held) leaves no reader.
            let writer = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if writer >= 0 {
                for request in requests {
                    _ = Array((request + "\n").utf8).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
                    usleep(300_000)
                }
                close(writer)
            }
        }

        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var run = InitRun()
        var decoder = ConsoleFrameDecoder()
        run.events = decoder.feed(Array(data)) + decoder.finish()
        run.terminationStatus = process.terminationStatus
        if let text = try? String(contentsOf: directory.appendingPathComponent("exit"), encoding: .utf8) {
            run.exitFile = try? GuestExitStatus.decode(text)
        }
        if let text = try? String(contentsOf: directory.appendingPathComponent("ready"), encoding: .utf8) {
            run.readyPID = Int(text)
        }
        run.started = try? String(contentsOf: directory.appendingPathComponent("started"), encoding: .utf8)
        return run
    }
}
