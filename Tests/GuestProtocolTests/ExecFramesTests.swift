import Testing

@testable import GuestProtocol

/// What host and init agree on for exec sessions: the session number leads every payload and a
/// description longer than one frame arrives whole.
@Suite struct ExecFramesTests {
    private func frames(_ bytes: [UInt8]) -> [(ConsoleStream, [UInt8])] {
        var decoder = ConsoleFrameDecoder()
        return decoder.feed(bytes).compactMap { event in
            if case .frame(let stream, let payload) = event { return (stream, payload) }
            return nil
        }
    }

    @Test func aLongDescriptionIsSplitAndReassembled() throws {
        let description = (0..<10_000).map { UInt8($0 % 251) }
        let decoded = frames(ExecFrames.start(session: 0x0102_0304, description: description))
        #expect(decoded.count == 3)
        var reassembled: [UInt8] = []
        for (index, (stream, payload)) in decoded.enumerated() {
            #expect(stream == .execStart)
            let (session, rest) = try #require(ExecFrames.split(payload))
            #expect(session == 0x0102_0304)
            #expect(rest.first == (index == decoded.count - 1 ? 1 : 0), "only the last part is marked last")
            reassembled += rest.dropFirst()
        }
        #expect(reassembled == description)
    }

    @Test func outputCarriesSessionAndStream() throws {
        let decoded = frames(ExecFrames.output(session: 7, stream: .stderr, Array("oops".utf8)))
        #expect(decoded.count == 1)
        let (session, rest) = try #require(ExecFrames.split(decoded[0].1))
        #expect(decoded[0].0 == .execOutput)
        #expect(session == 7)
        #expect(rest.first == ConsoleStream.stderr.rawValue)
        #expect(Array(rest.dropFirst()) == Array("oops".utf8))
    }

    @Test func inputEndAndExitAreOneFrameEach() throws {
        let end = frames(ExecFrames.inputEnd(session: 3))
        #expect(end.count == 1 && end[0].0 == .execInputEnd)
        let exit = frames(ExecFrames.exit(session: 3, .exited(6)))
        let (session, rest) = try #require(ExecFrames.split(exit[0].1))
        #expect(session == 3)
        #expect(try GuestExitStatus.decode(String(decoding: rest, as: UTF8.self)) == .exited(6))
    }

    @Test func largeInputStaysWithinFrames() {
        let input = [UInt8](repeating: 65, count: 20_000)
        let decoded = frames(ExecFrames.input(session: 1, input))
        #expect(decoded.allSatisfy { $0.0 == .execInput && $0.1.count <= ConsoleFraming.maxPayload })
        #expect(decoded.flatMap { ExecFrames.split($0.1).map { Array($0.rest) } ?? [] } == input)
    }

    @Test func aPayloadTooShortForASessionIsIgnored() {
        #expect(ExecFrames.split([1, 2, 3]) == nil)
    }
}
