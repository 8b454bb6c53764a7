import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The steps of `create` and `delete` at which a test can make runxl die by SIGKILL, to prove
/// that `delete --force` and `gc` leave nothing behind whatever step a crash, an OOM kill or a
/// power cut interrupts (docs/failure-and-hostile-input.md has the state each one leaves).
public enum KillPoint: String, CaseIterable, Sendable {
    // create
    /// The id's directory and its `creating` record exist; nothing else.
    case afterClaim = "after-claim"
    /// The guest's kernel and initramfs are built (in the cache); no domain yet.
    case afterPrepare = "after-prepare"
    /// The domain exists (paused) but the record does not know its id yet.
    case afterDomainCreate = "after-domain-create"
    /// The supervisor runs; the record is still `creating`, without its pid.
    case afterSupervisorSpawn = "after-supervisor-spawn"
    /// Everything is up; the `created` record was not written.
    case beforeSave = "before-save"
    // delete
    /// The delete marker is written; nothing destroyed yet.
    case afterDeleteMark = "after-delete-mark"
    /// The domain is destroyed; the supervisor may still run, the record is there.
    case afterDestroy = "after-destroy"
    /// Domain and supervisor are gone; every file of the container is still there.
    case beforeRemove = "before-remove"
    /// `state.json` is gone; the container's directory still holds its lock and marker.
    case afterRecordRemove = "after-record-remove"
}

/// Makes runxl SIGKILL itself when it reaches the armed point, in the test build only:
/// `runxl-testing` arms it from `RUNXL_INJECT_KILL=<point>` at start; the shipped `runxl` never
/// does, so there the points cost one lock each and nothing in the environment can trigger them.
public enum KillInjection {
    private static let requested = Mutex<String?>(nil)

    /// Only the test build's main (and unit tests) call this.
    public static func arm(at point: String?) {
        requested.withLock { $0 = point }
    }

    public static func reached(_ point: KillPoint) {
        guard requested.withLock({ $0 }) == point.rawValue else { return }
        kill(getpid(), SIGKILL)
        // SIGKILL cannot be caught; nothing after it runs.
    }
}
