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
            return written ?? .exited(rebootStatus)
        case .shutdown(let reason):
            return written ?? .failed("the unikernel shut down (\(reason))")
        case .gone, .timedOut:
            return written ?? .signaled(9)
        }
    }

    /// runxl never asks a unikernel to reboot (on_reboot is destroy, kill asks for a power-off),
    /// so a reboot is the unikernel's own end and not a clean one as far as runxl can tell:
    /// Unikraft's nolibc `exit(1)` reboots, and Xen ends a PVH or HVM guest's triple fault the
    /// same way. A status of 0 would hide both.
    public static let rebootStatus: Int32 = 1

    /// Why a unikernel ended the way it did, for the container's stderr, when its status alone
    /// would not say (there is no init inside to print a reason). nil for a clean power-off, a
    /// kill, or an end the unikernel explained with its own exit code.
    public static func explanation(after end: DomainEnd, written: GuestExitStatus?) -> String? {
        switch end {
        case .shutdown(.reboot) where written == nil:
            return "the unikernel rebooted, which ends it with status \(rebootStatus) (Unikraft's exit(1) reboots; Xen "
                + "also ends a PVH or HVM guest's triple fault as a reboot, which `xl dmesg` shows)"
        case .shutdown(.crash):
            return "the unikernel crashed (Xen's SHUTDOWN_crash), reported as status "
                + "\(GuestExitStatus.signaled(crashSignal).shellExitCode), as for SIGABRT"
        default:
            return nil
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
