import GuestProtocol

/// The GuestProtocol fuzz targets' bodies. Scripts/fuzz compiles this file into the libFuzzer
/// binaries and FuzzRegressionTests runs the committed corpus through it, so a crash input found
/// by the fuzzer is replayed by the same code in `swift test`. Each returns the invariants the
/// input broke (empty when none); a thrown decoding error is a normal outcome, not a violation.
enum GuestProtocolFuzzHarness {
    static let targets: [String: @Sendable ([UInt8]) -> [String]] = [
        "xenstore-wire": xenstoreWire,
        "guest-keys": guestKeys,
        "console-framing": consoleFraming,
        "process-description": processDescription,
    ]

    /// The first byte picks a chunk size, so message boundaries fall anywhere in a chunk.
    static func xenstoreWire(_ input: [UInt8]) -> [String] {
        guard let first = input.first else { return [] }
        let chunkSize = Int(first % 32) + 1
        let stream = input.dropFirst()
        var decoder = XenstoreMessageDecoder()
        var messages: [XenstoreMessage] = []
        var offset = stream.startIndex
        do {
            while offset < stream.endIndex {
                let end = min(offset + chunkSize, stream.endIndex)
                messages += try decoder.feed(stream[offset..<end])
                offset = end
            }
        } catch {
            return []
        }
        var violations: [String] = []
        for message in messages {
            _ = message.strings
            _ = message.watchEvent
            _ = message.error(context: "fuzz")
            _ = try? message.value(context: "fuzz")
            // Whatever the decoder accepted must encode and decode back to itself.
            do {
                var again = XenstoreMessageDecoder()
                let decoded = try again.feed(message.encoded())
                if decoded != [message] { violations.append("xenstore message does not survive encode and decode") }
            } catch {
                violations.append("decoded xenstore message does not encode again: \(error)")
            }
        }
        if decoder.pendingByteCount >= XenstoreMessage.headerSize + XenstoreMessage.maxPayload {
            violations.append("xenstore decoder holds \(decoder.pendingByteCount) bytes, more than one message")
        }
        return violations
    }

    /// Exit status and signal request texts, as init and the host read them from xenstore.
    static func guestKeys(_ input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        var violations: [String] = []
        if let status = try? GuestExitStatus.decode(text) {
            if (try? GuestExitStatus.decode(status.encoded)) != status {
                violations.append("exit status '\(status)' does not decode back to itself")
            }
            if !(0...255).contains(status.shellExitCode) {
                violations.append("exit status '\(status)' has shell exit code \(status.shellExitCode)")
            }
        }
        if let request = try? SignalRequest.decode(text) {
            if (try? SignalRequest.decode(request.encoded)) != request {
                violations.append("signal request '\(request)' does not decode back to itself")
            }
            if !(1...127).contains(request.signal) { violations.append("signal request '\(request)' has signal \(request.signal)") }
        }
        return violations
    }

    /// The first byte picks a chunk size; every byte fed must come out once, framed or not.
    static func consoleFraming(_ input: [UInt8]) -> [String] {
        guard let first = input.first else { return [] }
        let chunkSize = Int(first) % 64 + 1
        let stream = Array(input.dropFirst())
        var decoder = ConsoleFrameDecoder()
        var events: [ConsoleEvent] = []
        var offset = 0
        while offset < stream.count {
            let end = min(offset + chunkSize, stream.count)
            events += decoder.feed(stream[offset..<end])
            offset = end
        }
        events += decoder.finish()
        var violations: [String] = []
        var delivered = 0
        for event in events {
            switch event {
            case .frame(_, let payload):
                if payload.isEmpty || payload.count > ConsoleFraming.maxPayload {
                    violations.append("console frame with a payload of \(payload.count) bytes")
                }
                delivered += payload.count
            case .unframed(let bytes):
                delivered += bytes.count
            }
        }
        if delivered > stream.count { violations.append("console decoder delivered \(delivered) bytes from \(stream.count)") }
        return violations
    }

    /// The process file init reads as PID 1: any crash there panics the guest.
    static func processDescription(_ input: [UInt8]) -> [String] {
        guard let description = try? ProcessDescription.decode(input) else { return [] }
        if (try? ProcessDescription.decode(description.encoded())) != description {
            return ["process description does not survive encode and decode"]
        }
        return []
    }
}
