import Testing

import GuestProtocol

@Suite struct XenstoreWireTests {
    @Test func readRequestLayout() throws {
        let bytes = try XenstoreMessage.read("data/x", requestID: 7).encoded()
        #expect(bytes == [2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0] + Array("data/x".utf8) + [0])
    }

    @Test func writeValueIsNotNulTerminated() throws {
        let message = XenstoreMessage.write("data/runxl/exit", string: "exited:0")
        #expect(message.type == .write)
        #expect(message.payload == Array("data/runxl/exit".utf8) + [0] + Array("exited:0".utf8))
    }

    @Test func watchCarriesPathAndToken() {
        let message = XenstoreMessage.watch("data/runxl/signal", token: "tok")
        #expect(message.type.rawValue == 4)
        #expect(message.strings == ["data/runxl/signal", "tok"])
    }

    @Test func messageTypeNumbersMatchXsWire() {
        #expect(XenstoreMessageType.directory.rawValue == 1)
        #expect(XenstoreMessageType.getDomainPath.rawValue == 10)
        #expect(XenstoreMessageType.write.rawValue == 11)
        #expect(XenstoreMessageType.mkdir.rawValue == 12)
        #expect(XenstoreMessageType.rm.rawValue == 13)
        #expect(XenstoreMessageType.watchEvent.rawValue == 15)
        #expect(XenstoreMessageType.error.rawValue == 16)
        #expect(XenstoreMessageType.resetWatches.rawValue == 21)
    }

    @Test func decoderHandlesSplitAndCoalescedMessages() throws {
        let event = XenstoreMessage(type: .watchEvent, payload: Array("data/runxl/signal\0runxl-signal\0".utf8))
        let reply = XenstoreMessage(type: .read, requestID: 3, payload: Array("1:15".utf8))
        let stream = try event.encoded() + reply.encoded()
        for split in 0...stream.count {
            var decoder = XenstoreMessageDecoder()
            let messages = try decoder.feed(stream[..<split]) + decoder.feed(stream[split...])
            #expect(messages == [event, reply])
            #expect(decoder.pendingByteCount == 0)
        }
        #expect(event.watchEvent?.path == "data/runxl/signal")
        #expect(event.watchEvent?.token == "runxl-signal")
    }

    @Test func errorReply() throws {
        let reply = XenstoreMessage(type: .error, requestID: 1, payload: Array("ENOENT\0".utf8))
        let error = try #require(reply.error(context: "read data/x"))
        #expect(error.name == "ENOENT")
        #expect(error.linuxErrno == 2)
        #expect(throws: XenstoreError.self) { try reply.value(context: "read data/x") }
        #expect(XenstoreError.knownNames.count == 16)
    }

    @Test func directoryReplyStrings() {
        let reply = XenstoreMessage(type: .directory, payload: Array("a\0b\0c\0".utf8))
        #expect(reply.strings == ["a", "b", "c"])
        #expect(XenstoreMessage(type: .directory).strings == [])
    }

    @Test func oversizedPayloadIsRefused() {
        #expect(throws: GuestProtocolError.self) {
            try XenstoreMessage(type: .write, payload: Array(repeating: 0, count: 4097)).encoded()
        }
        var decoder = XenstoreMessageDecoder()
        #expect(throws: GuestProtocolError.self) {
            try decoder.feed([11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x20, 0, 0])
        }
    }
}
