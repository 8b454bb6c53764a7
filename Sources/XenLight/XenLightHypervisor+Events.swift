internal import CXenLight
import Glibc
public import Hypervisor
public import RunxlBase
import Synchronization

/// Tokens that tell one wait's libxl events from another's on the shared ctx.
private let nextWaitToken = Atomic<UInt64>(1)

extension XenLightHypervisor {
    /// Waits through libxl's domain-death events, driving libxl's file descriptors with poll(2)
    /// so that the wait can end at a deadline (`libxl_event_wait` cannot).
    ///
    /// libxl reports a domain that had already shut down, or was already gone, as soon as the
    /// watch is set up, so there is no window between a check and the wait.
    public func waitForEnd(_ domain: DomainID, timeoutSeconds: Double?) throws(RunxlError) -> DomainEnd {
        // libxl's SIGCHLD self-pipe is among the descriptors polled below.
        try withChildSignalDeliverable { () throws(RunxlError) -> DomainEnd in try waitForEnd(domain, until: timeoutSeconds) }
    }

    private func waitForEnd(_ domain: DomainID, until timeoutSeconds: Double?) throws(RunxlError) -> DomainEnd {
        let deadline = timeoutSeconds.map { ContinuousClock.now + .milliseconds(Int64(max($0, 0) * 1000)) }
        var token = nextWaitToken.wrappingAdd(1, ordering: .relaxed).oldValue
        var generator: OpaquePointer?
        try call("libxl_evenable_domain_death", "cannot watch domain \(domain) for its end") {
            rx_libxl_evenable_domain_death(context, domain.rawValue, token, &generator)
        }
        defer {
            rx_libxl_evdisable_domain_death(context, generator)
            discardEvents(token: &token)
        }
        // A domain destroyed (by another thread or process) before the watch was set may never
        // produce a death event: look once the watch is in place, so neither order is missed.
        if try domainInfo(domain) == nil { return .gone }

        let wanted: UInt64 =
            (1 << UInt64(LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN.rawValue)) | (1 << UInt64(LIBXL_EVENT_TYPE_DOMAIN_DEATH.rawValue))
        var descriptors = [pollfd](repeating: pollfd(), count: 16)
        while true {
            var event: UnsafeMutablePointer<libxl_event>?
            let rc = rx_libxl_event_check(context, &event, wanted, runxl_event_predicate_for_token(), &token)
            if rc == 0, let event {
                defer { rx_libxl_event_free(context, event) }
                switch event.pointee.type {
                case LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN:
                    return .shutdown(Self.shutdownReason(Int(event.pointee.u.domain_shutdown.shutdown_reason)))
                case LIBXL_EVENT_TYPE_DOMAIN_DEATH:
                    return .gone
                default:
                    continue
                }
            }
            guard rc == ERROR_NOT_READY.rawValue else {
                throw Self.error(
                    rc, function: "libxl_event_check", failure: "cannot wait for domain \(domain) to end", records: [])
            }

            // Never an unbounded poll: see `longestPollMilliseconds`.
            var timeout: Int32 = Self.longestPollMilliseconds
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { return .timedOut }
                let (seconds, attoseconds) = remaining.components
                // Round up, so the last poll does not wake just before the deadline and spin.
                let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                timeout = min(Int32(clamping: milliseconds), Self.longestPollMilliseconds)
            }
            var count = Int32(descriptors.count)
            var now = timeval()
            gettimeofday(&now, nil)
            let prepared = rx_libxl_osevent_beforepoll(context, &count, &descriptors, &timeout, now)
            if prepared == ERROR_BUFFERFULL.rawValue {
                descriptors = [pollfd](repeating: pollfd(), count: Int(count))
                continue
            }
            guard prepared == 0 else {
                throw Self.error(
                    prepared, function: "libxl_osevent_beforepoll", failure: "cannot wait for domain \(domain) to end",
                    records: [])
            }
            if poll(&descriptors, nfds_t(count), timeout) < 0 {
                let err = errno
                guard err == EINTR else {
                    throw RunxlError(
                        .hypervisorFailed, "cannot wait for domain \(domain) to end",
                        cause: SystemCallError("poll", errno: err))
                }
            }
            gettimeofday(&now, nil)
            rx_libxl_osevent_afterpoll(context, count, &descriptors, now)
        }
    }

    /// The rule for a context shared by threads: another thread may call libxl on it while this
    /// wait runs (the supervisor destroys the domain from one when init reports the exit, or
    /// when the 9pfs backend dies). That thread's synchronous call runs libxl's event loop
    /// itself and can handle this wait's xenstore watch, queueing the death event without
    /// anything this poll watches becoming readable, and an unbounded poll would never return
    /// (the likely cause of a supervisor that stayed after its guest was gone, once, in the
    /// lab's binds check). So the poll wakes at least this often to look at libxl's queue
    /// again: four wake-ups a second per waiting supervisor.
    static let longestPollMilliseconds: Int32 = 250

    /// Frees the events of a finished wait that were queued but not returned (a DEATH behind the
    /// SHUTDOWN it returned), which libxl would otherwise keep for the life of the ctx.
    private func discardEvents(token: inout UInt64) {
        while true {
            var event: UnsafeMutablePointer<libxl_event>?
            guard rx_libxl_event_check(context, &event, ~0, runxl_event_predicate_for_token(), &token) == 0, let event
            else { return }
            rx_libxl_event_free(context, event)
        }
    }
}
