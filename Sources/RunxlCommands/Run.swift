import Runtime
import RunxlBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `runxl run`: create + start; without --detach it waits, deletes the container and exits
/// with the container's exit status, as `runc run` does.
struct Run: Verb {
    static let spec = VerbSpec(
        name: "run", summary: "create and start a container, and wait for it", usage: "[flags] ID",
        flags: CreateFlags.flags + [
            FlagSpec("detach", short: "d", help: "return once started"),
            FlagSpec("keep", help: "keep the container's state after it exits"),
        ])
    let global: GlobalOptions
    let id: ContainerID
    let options: CreateFlags
    let detach: Bool
    let keep: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
        options = try CreateFlags(arguments)
        detach = arguments.isSet("detach")
        keep = arguments.isSet("keep")
    }

    func run() throws(RunxlError) -> Int32 {
        let engine = try Backend.engine(global)
        var engineOptions = options.engineOptions(global)
        // runc runs a terminal process in the foreground without a console socket: the pty's
        // master comes back to this process, which bridges it to its own stdin and stdout.
        let master = KeptTerminal()
        if !detach, engineOptions.consoleSocket == nil {
            engineOptions.takeTerminalMaster = { descriptor in master.descriptor.withLock { $0 = descriptor } }
        }
        let record: ContainerRecord
        do {
            record = try engine.create(id, options: engineOptions)
        } catch {
            if let kept = master.descriptor.withLock({ $0 }) { close(kept) }
            throw error
        }
        var bridge: TerminalBridge?
        do {
            if let kept = master.descriptor.withLock({ $0 }) { bridge = try TerminalBridge.start(master: kept) }
            try engine.start(id)
        } catch {
            try? engine.delete(id, force: true)
            bridge?.finish()
            throw error
        }
        if detach { return 0 }
        let code = record.pid.map(Processes.waitForExit) ?? 255
        bridge?.finish()
        if !keep { try engine.delete(id, force: true) }
        return code
    }
}

/// The pty master create hands back to a foreground `run`.
private final class KeptTerminal: Sendable {
    let descriptor = Mutex<Int32?>(nil)
}
