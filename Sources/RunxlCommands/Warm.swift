import GuestBuild
import Hypervisor
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// What `runxl warm` does.
enum WarmAction: String, CaseIterable {
    case fill, drain, ls
}

/// `runxl warm fill|drain|ls`: the pool of pre-booted guests (`WarmPool`, docs/fast-start.md)
/// that the host config's `warmPool` turns on. `fill` boots warm VMs for every guest shape the
/// host has run since the last drain until each has its number (create starts it in the
/// background for its own shape); `drain` destroys the idle ones, frees their memory and
/// forgets the shapes; `ls` lists them.
struct Warm: Verb {
    /// How create starts `fill`: after the start of the container in domain N (`WarmPool.waitForStart`),
    /// in a process that leaves the caller's session, descriptors and cgroup.
    static let afterFlag = "after-domain"
    /// The shape create left short: the refill boots that one only.
    static let shapeFlag = "shape"
    static let spec = VerbSpec(
        name: "warm", summary: "the pool of pre-booted guests: fill, drain, ls", usage: "fill|drain|ls",
        flags: [
            FlagSpec(afterFlag, value: "DOMID", help: "run as create's background refill", hidden: true),
            FlagSpec(shapeFlag, value: "KEY", help: "fill only this guest shape", hidden: true),
        ])

    let global: GlobalOptions
    let action: WarmAction
    let after: DomainID?
    let shape: String?

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        try arguments.expectPositionals(atMost: 1)
        let names = WarmAction.allCases.map(\.rawValue).joined(separator: ", ")
        let name = try arguments.positional(0, "action (\(names))")
        guard let action = WarmAction(rawValue: name) else {
            throw RunxlError(.usage, "warm: unknown action '\(name)'; use one of \(names)")
        }
        self.action = action
        shape = arguments.value(Self.shapeFlag)
        if let text = arguments.value(Self.afterFlag) {
            guard let number = UInt32(text) else { throw RunxlError(.usage, "warm: --\(Self.afterFlag) takes a domain id, not '\(text)'") }
            after = DomainID(number)
        } else {
            after = nil
        }
    }

    func run() throws(RunxlError) -> Int32 {
        if after != nil { detachFromCaller() }
        let pool = try Backend.warmPool() ?? WarmPool(size: 0)
        var text = ""
        switch action {
        case .ls:
            for (name, state) in pool.list() { text += "\(name) \(state)\n" }
        case .drain:
            for line in pool.drain(hypervisor: try Backend.engine(global).hypervisor) { text += "destroyed: \(line)\n" }
        case .fill:
            guard pool.size > 0 else {
                throw RunxlError(.invalidConfig, "the host config (\(HostConfig.defaultPath)) keeps no warm VMs: set \"warmPool\" to how many per guest shape")
            }
            let logger = global.logger
            let hypervisor = try Backend.engine(global).hypervisor
            if let after { WarmPool.waitForStart(of: after, hypervisor: hypervisor) }
            for name in pool.fill(only: shape, hypervisor: hypervisor, warn: { logger.warning($0) }) {
                text += "booted: \(name)\n"
            }
        }
        Descriptors.writeAllIfPossible(1, Array(text.utf8))
        return 0
    }

    /// create's refill outlives create: it must hold none of the caller's pipes (conmon's and
    /// the shim's wait for their end), get none of its terminal's signals, and leave the
    /// container's cgroup, which podman removes with the container. The warm VMs' backends it
    /// starts are born where it is.
    private func detachFromCaller() {
        Processes.closeDescriptors(from: 3)
        _ = setsid()
        try? HostCgroup.place([getpid()], in: HostCgroup.mountPoint)
    }
}
