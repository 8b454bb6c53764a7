import Dispatch
import Glibc
import RunxlBase
import Testing

/// `Descriptors.writeAll` is the one loop behind every whole-buffer write of runxl and
/// runxl-init: a verb's output, console frames, a hook's stdin.
@Suite struct DescriptorsTests {
    /// Much more than a pipe holds (64 KiB by default), so the write is split by the kernel.
    static let payload: [UInt8] = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }

    /// Reads the pipe to its end on another thread, slowly at first, so the writer meets a full
    /// pipe several times.
    static func drain(_ descriptor: Int32, pauseFirst: useconds_t) -> @Sendable () -> [UInt8] {
        let result = ResultBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            usleep(pauseFirst)
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            result.set(bytes)
            done.signal()
        }
        return {
            done.wait()
            return result.get()
        }
    }

    final class ResultBox: @unchecked Sendable {
        private var bytes: [UInt8] = []
        private let lock = DispatchSemaphore(value: 1)
        func set(_ value: [UInt8]) { lock.wait(); bytes = value; lock.signal() }
        func get() -> [UInt8] { lock.wait(); defer { lock.signal() }; return bytes }
    }

    static func pipe(nonBlockingWriter: Bool) throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(Glibc.pipe(&ends) == 0)
        if nonBlockingWriter {
            _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        }
        return (ends[0], ends[1])
    }

    @Test func aBufferLargerThanThePipeArrivesWhole() throws {
        let ends = try Self.pipe(nonBlockingWriter: false)
        let received = Self.drain(ends.read, pauseFirst: 50_000)
        try Descriptors.writeAll(ends.write, Self.payload)
        close(ends.write)
        #expect(received() == Self.payload)
        close(ends.read)
    }

    /// A pty master or console is non-blocking: a full buffer (EAGAIN) is waited out, not
    /// taken for the end, which once dropped the rest of a frame.
    @Test func aFullNonBlockingDescriptorIsWaitedFor() throws {
        let ends = try Self.pipe(nonBlockingWriter: true)
        let received = Self.drain(ends.read, pauseFirst: 200_000)
        #expect(Descriptors.writeAllIfPossible(ends.write, Self.payload))
        close(ends.write)
        #expect(received() == Self.payload)
        close(ends.read)
    }

    @Test func aReaderThatLeftIsReportedAsThePipesEnd() throws {
        signal(SIGPIPE, SIG_IGN)
        let ends = try Self.pipe(nonBlockingWriter: false)
        close(ends.read)
        #expect(throws: SystemCallError.self) { try Descriptors.writeAll(ends.write, [1, 2, 3]) }
        do {
            try Descriptors.writeAll(ends.write, [1, 2, 3])
        } catch {
            #expect(error.errno == EPIPE)
            #expect(error.call == "write")
        }
        #expect(!Descriptors.writeAllIfPossible(ends.write, [1]))
        close(ends.write)
    }

    @Test func nothingToWriteSucceedsEvenOnAClosedDescriptor() throws {
        try Descriptors.writeAll(-1, [])
    }
}
