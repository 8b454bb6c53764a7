import Testing

@testable import GuestProtocol

@Suite struct ConsoleFramingTests {
    private func frames(_ events: [ConsoleEvent]) -> [ConsoleEvent] {
        events.filter { if case .frame = $0 { return true } else { return false } }
    }

    private func unframedBytes(_ events: [ConsoleEvent]) -> [UInt8] {
        events.flatMap { event -> [UInt8] in
            if case .unframed(let bytes) = event { return bytes }
            return []
        }
    }

    @Test func roundTripOfOneFrame() {
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(ConsoleFraming.encode(stream: .stdout, payload: Array("hello\n".utf8)))
        #expect(events == [.frame(.stdout, Array("hello\n".utf8))])
    }

    @Test func emptyPayloadMakesNoFrame() {
        #expect(ConsoleFraming.encode(stream: .stderr, payload: []).isEmpty)
    }

    @Test func largePayloadIsSplitAndReassembled() {
        let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let bytes = ConsoleFraming.encode(stream: .stderr, payload: payload)
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(bytes)
        #expect(events.count == 3)
        var joined: [UInt8] = []
        for event in events {
            guard case .frame(let stream, let chunk) = event else {
                Issue.record("unexpected \(event)")
                continue
            }
            #expect(stream == .stderr)
            #expect(chunk.count <= ConsoleFraming.maxPayload)
            joined += chunk
        }
        #expect(joined == payload)
    }

    @Test func kernelChatterBeforeFramesIsUnframed() {
        let chatter = Array("[    0.000000] Linux version 6.1.0\r\nRun /init as init process\r\n".utf8)
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(chatter + ConsoleFraming.encode(stream: .stdout, payload: Array("out".utf8)) + chatter)
        #expect(frames(events) == [.frame(.stdout, Array("out".utf8))])
        #expect(unframedBytes(events + decoder.finish()) == chatter + chatter)
    }

    @Test func everySplitPointGivesTheSameEvents() {
        let stream: [UInt8] =
            Array("boot junk \u{F5}rx".utf8) + ConsoleFraming.encode(stream: .stdout, payload: Array("one".utf8))
            + [0xF5, 0x72] + ConsoleFraming.encode(stream: .stderr, payload: Array("two".utf8))
            + ConsoleFraming.encode(stream: .exit, payload: Array("exited:0".utf8))
        for split in 0...stream.count {
            var decoder = ConsoleFrameDecoder()
            let events = decoder.feed(stream[..<split]) + decoder.feed(stream[split...]) + decoder.finish()
            #expect(
                frames(events) == [
                    .frame(.stdout, Array("one".utf8)), .frame(.stderr, Array("two".utf8)),
                    .frame(.exit, Array("exited:0".utf8)),
                ], "split at \(split)")
        }
    }

    @Test func byteByByteFeeding() {
        let bytes = ConsoleFraming.encode(stream: .diagnostics, payload: Array("init: mounting /proc".utf8))
        var decoder = ConsoleFrameDecoder()
        var events: [ConsoleEvent] = []
        for byte in bytes { events += decoder.feed([byte]) }
        #expect(events == [.frame(.diagnostics, Array("init: mounting /proc".utf8))])
    }

    @Test func corruptedFrameIsDroppedAndTheNextOneStillDecodes() {
        var first = ConsoleFraming.encode(stream: .stdout, payload: Array("aaaa".utf8))
        first[9] ^= 0xFF
        let second = ConsoleFraming.encode(stream: .stdout, payload: Array("bbbb".utf8))
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(first + second)
        #expect(frames(events) == [.frame(.stdout, Array("bbbb".utf8))])
        #expect(unframedBytes(events) == first)
    }

    @Test func kernelTextInsideAFrameDoesNotSwallowLaterFrames() {
        let frame = ConsoleFraming.encode(stream: .stdout, payload: Array("hello world".utf8))
        let kernel = Array("\r\n[  12.3] oops\r\n".utf8)
        let broken = Array(frame[..<10]) + kernel + Array(frame[10...])
        let next = ConsoleFraming.encode(stream: .stderr, payload: Array("next".utf8))
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(broken + next)
        #expect(frames(events) == [.frame(.stderr, Array("next".utf8))])
    }

    @Test func falseMarkerWithHugeLengthDoesNotStallRealFrames() {
        // A marker followed by a plausible length of 4000 bytes that never come.
        let fake = ConsoleFraming.magic + [1, 0xA0, 0x0F] + Array("junk".utf8)
        let real = ConsoleFraming.encode(stream: .stdout, payload: Array("real".utf8))
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(fake + real)
        #expect(frames(events) == [.frame(.stdout, Array("real".utf8))])
    }

    @Test func oversizedLengthIsJunk() {
        let fake = ConsoleFraming.magic + [1, 0xFF, 0xFF]
        let real = ConsoleFraming.encode(stream: .stdout, payload: Array("x".utf8))
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(fake + real)
        #expect(frames(events) == [.frame(.stdout, Array("x".utf8))])
        #expect(unframedBytes(events) == fake)
    }

    @Test func unknownStreamIsStillDelivered() {
        var decoder = ConsoleFrameDecoder()
        let events = decoder.feed(ConsoleFraming.encode(stream: ConsoleStream(rawValue: 9), payload: [1, 2]))
        #expect(events == [.frame(ConsoleStream(rawValue: 9), [1, 2])])
    }

    @Test func randomJunkNeverCrashesAndBufferStaysBounded() {
        var generator = SplitMix64(seed: 42)
        var decoder = ConsoleFrameDecoder()
        var framesSeen = 0
        for round in 0..<300 {
            var chunk = (0..<Int(generator.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if round % 3 == 0 { chunk += ConsoleFraming.magic }
            if round % 5 == 0 { chunk += ConsoleFraming.encode(stream: .stdout, payload: Array("ok\(round)".utf8)) }
            for event in decoder.feed(chunk) {
                if case .frame(.stdout, let payload) = event, payload.starts(with: Array("ok".utf8)) { framesSeen += 1 }
            }
        }
        #expect(framesSeen >= 55)
        let rest = decoder.finish()
        #expect(unframedBytes(rest).count <= ConsoleFraming.maxFrameSize + 2000)
    }

    @Test func crcMatchesZlib() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

/// A tiny deterministic generator so the junk tests are reproducible.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
