#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on a detached OS thread.
///
/// The supervisor blocks in two places at once (the guest console and libxl's event wait); plain
/// threads keep both blocking calls simple, where an async runtime would add nothing but weight
/// to a process that must start fast.
public func startDetachedThread(_ body: @escaping @Sendable () -> Void) throws(RunxlError) {
    let thread = try createThread(body)
    pthread_detach(thread)
}

/// Runs `body(0)` ... `body(count - 1)` at once, one OS thread each (the caller's thread takes
/// number 0), and returns when all have. Used for bounded pools: the caller hands out the work.
public func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    var threads: [pthread_t] = []
    for index in 1..<max(count, 1) {
        if let thread = try? createThread({ body(index) }) {
            threads.append(thread)
        } else {
            // No thread: that share of the work runs here, after the caller's own.
            body(index)
        }
    }
    body(0)
    for thread in threads { pthread_join(thread, nil) }
}

/// A new joinable OS thread running `body`.
private func createThread(_ body: @escaping @Sendable () -> Void) throws(RunxlError) -> pthread_t {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        guard let argument else { return nil }
        Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue().body()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        throw RunxlError(.internal, "cannot start a thread", cause: SystemCallError("pthread_create", errno: result))
    }
    return thread
}
