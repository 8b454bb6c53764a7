public import GuestProtocol
public import Hypervisor

/// How a unikernel's end and the signals sent to it map onto OCI's exit statuses and kills
/// (docs/unikernels.md, "Exit status and signals"). No runxl-init runs inside a unikernel: the
/// domain's own shutdown reason is its exit, refined by `data/runxl/exit` when it writes one.
public enum UnikernelExit {
    /// A crash is reported as a process killed by SIGABRT would be: status 134, `signaled:6`.
    public static let crashSignal: Int32 = 6

    /// The exit status of a unikernel from how its domain ended and the exit key it may have
    /// written (`exited:N`, runxl's guest protocol).
    public static func status(after end: DomainEnd, written: GuestExitStatus?) -> GuestExitStatus {
        switch end {
        case .shutdown(.poweroff):
            return written ?? .exited(0)
        case .shutdown(.crash):
            return .signaled(crashSignal)
        case .shutdown(.reboot):
            // on_reboot is destroy: a unikernel that reboots has ended, as it asked.
            return written ?? .exited(0)
        case .shutdown(let reason):
            return written ?? .failed("the unikernel shut down (\(reason))")
        case .gone, .timedOut:
            return written ?? .signaled(9)
        }
    }

    /// What `kill SIGNAL` does to a running unikernel.
    public enum SignalAction: Sendable, Equatable {
        /// Xen's `control/shutdown` = poweroff: the unikernel shuts down by itself (exit 0).
        case cleanShutdown
        case destroy
        /// There is no process to deliver it to.
        case unsupported
    }

    /// TERM, INT, HUP and QUIT ask for a clean shutdown; KILL destroys; nothing else can reach a
    /// unikernel.
    public static func action(for signal: Int32) -> SignalAction {
        switch signal {
        case 9: return .destroy
        case 1, 2, 3, 15: return .cleanShutdown
        default: return .unsupported
        }
    }
}
