import Testing

@testable import GuestProtocol

/// A signal for an exec session's process (a pod member's `kill`, docs/pods.md) travels as its
/// own frame; init acts only on a signal number Linux has.
@Suite struct ExecFramesSignalTests {
    @Test func aSignalFrameCarriesTheSessionAndTheSignal() throws {
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(ExecFrames.signal(session: 70000, 15))
        guard case .frame(let stream, let payload)? = events.first else {
            Issue.record("no frame in \(events)")
            return
        }
        #expect(stream == .execSignal)
        #expect(stream.rawValue == 13)
        let (session, rest) = try #require(ExecFrames.split(payload))
        #expect(session == 70000)
        #expect(ExecFrames.signalNumber(rest) == 15)
    }

    @Test func aSignalOutsideLinuxsRangeOrOfTheWrongLengthIsIgnored() {
        #expect(ExecFrames.signalNumber([0, 0, 0, 0]) == nil)
        #expect(ExecFrames.signalNumber([65, 0, 0, 0]) == nil)
        #expect(ExecFrames.signalNumber([9, 0, 0]) == nil)
        #expect(ExecFrames.signalNumber([64, 0, 0, 0]) == 64)
    }
}
