import Testing

@testable import GuestProtocol

/// An exec's terminal size travels as its own frame (issue 19: exec window-size changes).
@Suite struct ExecFramesResizeTests {
    @Test func aResizeFrameCarriesTheSessionRowsAndColumns() throws {
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(ExecFrames.resize(session: 7, rows: 300, columns: 1025))
        guard case .frame(let stream, let payload)? = events.first else {
            Issue.record("no frame in \(events)")
            return
        }
        #expect(stream == .execResize)
        let (session, rest) = try #require(ExecFrames.split(payload))
        #expect(session == 7)
        let size = try #require(ExecFrames.size(rest))
        #expect(size.rows == 300 && size.columns == 1025)
    }

    @Test func aResizeOfTheWrongLengthIsIgnored() {
        #expect(ExecFrames.size([1, 2, 3]) == nil)
        #expect(ExecFrames.size([1, 2, 3, 4, 5]) == nil)
    }
}
