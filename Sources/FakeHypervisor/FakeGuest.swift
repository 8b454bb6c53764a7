import GuestProtocol
import Hypervisor
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The guest of a `FakeHypervisor` domain whose hypervisor was given a guest program: a process
/// that holds the domain's console, a pseudoterminal as xenconsoled's is, and speaks runxl-init's
/// side of the protocol on it, so the supervisor's console pump, stdin forwarding, exit frames and
/// exec sessions run in unit tests as they do over Xen.
///
/// The container process is simulated from its arguments (the domain's command line):
/// - `fake-echo WORDS...`: prints the words and a newline on stdout, exits 0;
/// - `fake-cat`: copies its stdin to stdout until the end of its input, exits 0;
/// - `fake-fail MESSAGE...`: init cannot run it: a diagnostic, then `failed:MESSAGE`;
/// - `fake-exit N` (the hypervisor's own simulation): exits N as soon as it starts;
/// - anything else runs until a signal ends it.
/// Exec sessions (and a pod's further containers, which are sessions too) run `fake-echo`,
/// `fake-cat` and `fake-exit N` the same way, and `fake-wait` until a signal frame ends it; any
/// other program is not found (127), as a shell reports it.
///
/// It ends when its domain is destroyed, or after `lifetimeSeconds` whatever happens, so a test
/// that dies leaves nothing running for long.
public struct FakeGuest {
    let hypervisor: FakeHypervisor
    let domain: UInt32
    static let lifetimeSeconds = 600.0
    static let tickMilliseconds: Int32 = 20
    /// About five seconds of looks at a world that cannot be read before the guest gives up.
    static let unreadableLooks = 250

    /// The entry point of the guest program (`runxl-testing fake-guest DIRECTORY DOMAIN`).
    public static func main(_ arguments: [String]) -> Int32 {
        guard arguments.count == 2, let domain = UInt32(arguments[1]),
            let hypervisor = try? FakeHypervisor(directory: arguments[0])
        else { return 2 }
        Processes.closeDescriptors(from: 3)
        _ = setsid()
        return FakeGuest(hypervisor: hypervisor, domain: domain).run()
    }

    private enum Program: Equatable {
        case echo(String)
        case cat
        case fail(String)
        case runsUntilSignalled

        init(_ arguments: [String]) {
            switch arguments.first {
            case "fake-echo": self = .echo(arguments.dropFirst().joined(separator: " "))
            case "fake-cat": self = .cat
            case "fake-fail": self = .fail(arguments.dropFirst().joined(separator: " "))
            default: self = .runsUntilSignalled
            }
        }
    }

    /// An exec session's program and its input so far.
    private struct Session {
        var description: [UInt8] = []
        var catting = false
    }

    func run() -> Int32 {
        let terminal: Pseudoterminal
        do {
            terminal = try Pseudoterminal.allocate()
        } catch {
            return 1
        }
        // Raw before anyone reads: frames must pass byte for byte.
        terminal.makeReplicaRaw()
        // The replica's name, as xenconsoled gives its clients.
        guard let replicaPath = try? FileSystem.readLink("/proc/self/fd/\(terminal.replica)"),
            (try? hypervisor.publishConsole(DomainID(domain), path: replicaPath)) != nil
        else { return 1 }
        let console = terminal.master
        var decoder = ConsoleFrameDecoder()
        var unescaper = ConsoleInputUnescaper()
        var program: Program?
        var exitSent = false
        // The supervisor forwards stdin once init reports ready, which is before `start` lets
        // the process run: what arrives meanwhile waits here, as it would in the process's
        // stdin pipe in a real guest.
        var pendingInput: [UInt8] = []
        var inputEnded = false
        var sessions: [UInt32: Session] = [:]
        var unreadable = 0
        let deadline = Clock.monotonicSeconds() + Self.lifetimeSeconds
        var buffer = [UInt8](repeating: 0, count: 65536)
        func send(_ stream: ConsoleStream, _ bytes: [UInt8]) {
            Descriptors.writeAllIfPossible(console, ConsoleFraming.encode(stream: stream, payload: bytes))
        }
        func send(_ stream: ConsoleStream, _ text: String) { send(stream, Array(text.utf8)) }
        /// The exit frame, once, whoever ended the process.
        func sendExit(_ status: GuestExitStatus) -> Bool {
            guard !exitSent else { return false }
            exitSent = true
            send(.exit, status.encoded)
            return true
        }
        /// The process ended here: the frame, then init's report and power-off.
        func end(_ status: GuestExitStatus) {
            if sendExit(status) { try? hypervisor.guestExited(DomainID(domain), status) }
        }
        while Clock.monotonicSeconds() < deadline {
            var entry = pollfd(fd: console, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, Self.tickMilliseconds) > 0 {
                let count = buffer.withUnsafeMutableBytes { read(console, $0.baseAddress, $0.count) }
                for event in decoder.feed(unescaper.feed(buffer[0..<max(count, 0)])) {
                    guard case .frame(let stream, let payload) = event else { continue }
                    switch stream {
                    case .input:
                        if program == nil { pendingInput += payload }
                        if case .cat? = program, !exitSent { send(.stdout, payload) }
                    case .inputEnd:
                        inputEnded = true
                        if case .cat? = program { end(.exited(0)) }
                    case .execStart, .execInput, .execInputEnd, .execSignal:
                        serveExec(stream, payload, &sessions, console: console)
                    default:
                        break
                    }
                }
            }
            let view: FakeHypervisor.GuestView?
            do {
                view = try hypervisor.guestView(DomainID(domain))
                unreadable = 0
            } catch {
                // A world file being replaced, a lock that timed out: look again, but not forever.
                unreadable += 1
                if unreadable > Self.unreadableLooks { return 1 }
                continue
            }
            // The domain is gone: so is its guest.
            guard let world = view else { return 0 }
            if let status = world.exit {
                // Ended by the hypervisor's own simulation (a signal, `fake-exit`, shutdown).
                _ = sendExit(status)
                continue
            }
            guard program == nil, world.processRunning else { continue }
            let started = Program(world.arguments)
            program = started
            switch started {
            case .echo(let text):
                send(.stdout, text + "\n")
                end(.exited(0))
            case .fail(let message):
                send(.diagnostics, "runxl-init: \(message)")
                end(.failed(message))
            case .cat:
                send(.stdout, pendingInput)
                if inputEnded { end(.exited(0)) }
            case .runsUntilSignalled:
                break
            }
            pendingInput = []
        }
        return 0
    }

    private func serveExec(_ stream: ConsoleStream, _ payload: [UInt8], _ sessions: inout [UInt32: Session], console: Int32) {
        guard let (number, rest) = ExecFrames.split(payload) else { return }
        func finish(_ status: GuestExitStatus) {
            sessions[number] = nil
            Descriptors.writeAllIfPossible(console, ExecFrames.exit(session: number, status))
        }
        func output(_ bytes: some Collection<UInt8>) {
            Descriptors.writeAllIfPossible(console, ExecFrames.output(session: number, stream: .stdout, bytes))
        }
        switch stream {
        case .execStart:
            guard let last = rest.first else { return }
            var session = sessions[number] ?? Session()
            session.description += rest.dropFirst()
            sessions[number] = session
            guard last == 1 else { return }
            guard let description = try? ProcessDescription.decode(session.description) else {
                finish(.failed("the exec request does not decode"))
                return
            }
            let arguments = description.args
            switch arguments.first {
            case "fake-echo":
                output(Array((arguments.dropFirst().joined(separator: " ") + "\n").utf8))
                finish(.exited(0))
            case "fake-exit":
                finish(.exited(arguments.count == 2 ? Int32(arguments[1]) ?? 1 : 1))
            case "fake-cat":
                sessions[number]?.catting = true
            case "fake-wait":
                // Runs until an `execSignal` ends it, as a pod member's server would.
                break
            default:
                let message = "\(arguments.first ?? ""): not found\n"
                Descriptors.writeAllIfPossible(console, ExecFrames.output(session: number, stream: .stderr, Array(message.utf8)))
                finish(.exited(127))
            }
        case .execInput:
            if sessions[number]?.catting == true { output(rest) }
        case .execInputEnd:
            if sessions[number]?.catting == true { finish(.exited(0)) }
        case .execSignal:
            if sessions[number] != nil, let signal = ExecFrames.signalNumber(rest) { finish(.signaled(signal)) }
        default:
            break
        }
    }
}
