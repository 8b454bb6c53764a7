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
    pthread_detach(thread)
}
