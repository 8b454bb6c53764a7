import Testing

@testable import GuestProtocol

/// The host-to-guest console must survive Linux's hvc driver, which eats 0x0F and the byte after
/// it (its SysRq prefix on the console hvc). `hvcSysRqFilter` is that driver loop, rewritten from
/// its documented behaviour, so the tests show both the loss and that escaping avoids it.
@Suite struct ConsoleInputEscapingTests {
    /// What a guest with CONFIG_MAGIC_SYSRQ reads from hvc0 when the host wrote `bytes`, and the
    /// keys it handed to SysRq.
    private func hvcSysRqFilter(_ bytes: [UInt8]) -> (delivered: [UInt8], sysRqKeys: [UInt8]) {
        var delivered: [UInt8] = []
        var keys: [UInt8] = []
        var pressed = false
        for byte in bytes {
            if byte == 0x0F {
                pressed.toggle()
                if pressed { continue }
            } else if pressed {
                keys.append(byte)
                pressed = false
                continue
            }
            delivered.append(byte)
        }
        return (delivered, keys)
    }

    private func frames(_ bytes: [UInt8]) -> [(ConsoleStream, [UInt8])] {
        var decoder = ConsoleFrameDecoder()
        return decoder.feed(bytes).compactMap { event in
            if case .frame(let stream, let payload) = event { return (stream, payload) }
            return nil
        }
    }

    @Test func everyByteValueRoundTripsAndNoneIsAControlO() {
        let all = (0...255).map(UInt8.init) + [0x0F, 0x0F, 0xFE, 0xFE, 0x0F, 0xFE, 0x01, 0x02]
        let wire = ConsoleInputEscaping.escaped(all)
        #expect(!wire.contains(0x0F))
        var unescaper = ConsoleInputUnescaper()
        #expect(unescaper.feed(wire) == all)
    }

    @Test func chunksCutAnywhereRoundTrip() {
        let input: [UInt8] = [1, 0x0F, 2, 0xFE, 3, 0x0F, 0x0F, 0xFE, 0xFE, 4]
        let wire = ConsoleInputEscaping.escaped(input)
        for cut in 0...wire.count {
            var unescaper = ConsoleInputUnescaper()
            let output = unescaper.feed(wire[..<cut]) + unescaper.feed(wire[cut...])
            #expect(output == input, "cut at \(cut)")
        }
    }

    /// The lab's failure: an exec start of two frames lost a part to the driver and init read a
    /// description that did not start with `{`.
    @Test func framesWithAControlOAreLostWithoutEscapingAndKeptWithIt() throws {
        // Session 15 puts 0x0F in the header of every frame of the session.
        let description = Array(#"{"args":["sh","-c","echo hi"]}"#.utf8) + [UInt8](repeating: 0x20, count: 5000)
        let sent = ExecFrames.start(session: 15, description: description) + ExecFrames.input(session: 15, [0x0F, 0x62])
        let plain = hvcSysRqFilter(sent)
        #expect(frames(plain.delivered).count < 3, "the driver breaks frames that hold 0x0F")
        #expect(!plain.sysRqKeys.isEmpty)

        let escaped = hvcSysRqFilter(ConsoleInputEscaping.escaped(sent))
        #expect(escaped.sysRqKeys.isEmpty)
        var unescaper = ConsoleInputUnescaper()
        let received = frames(unescaper.feed(escaped.delivered))
        #expect(received.count == 3)
        var reassembled: [UInt8] = []
        for (stream, payload) in received where stream == .execStart {
            let (session, rest) = try #require(ExecFrames.split(payload))
            #expect(session == 15)
            reassembled += rest.dropFirst()
        }
        #expect(reassembled == description)
        #expect(received.last.map { Array($0.1.dropFirst(4)) } == [0x0F, 0x62], "a typed ^O reaches the process")
    }

    @Test func anUnknownEscapeIsKeptForTheChecksumToReject() {
        var unescaper = ConsoleInputUnescaper()
        #expect(unescaper.feed([0x41, 0xFE, 0x07, 0x42]) == [0x41, 0xFE, 0x07, 0x42])
    }
}
