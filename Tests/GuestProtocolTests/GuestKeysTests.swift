import Testing

import GuestProtocol

@Suite struct GuestKeysTests {
    @Test func keysLiveUnderTheGuestWritableDataDirectory() {
        for key in [GuestKeys.ready, GuestKeys.exit, GuestKeys.signal] {
            #expect(key.hasPrefix("data/runxl/"))
        }
        #expect(GuestKeys.absolute(GuestKeys.exit, domainID: 7) == "/local/domain/7/data/runxl/exit")
    }

    @Test(arguments: [GuestExitStatus.exited(0), .exited(255), .signaled(9), .failed("mount /proc: EPERM: a:b")])
    func exitStatusRoundTrip(status: GuestExitStatus) throws {
        #expect(try GuestExitStatus.decode(status.encoded) == status)
    }

    @Test func exitStatusTexts() throws {
        #expect(GuestExitStatus.exited(3).encoded == "exited:3")
        #expect(GuestExitStatus.signaled(15).encoded == "signaled:15")
        #expect(GuestExitStatus.signaled(9).shellExitCode == 137)
        #expect(GuestExitStatus.failed("x").shellExitCode == 127)
    }

    @Test(arguments: ["", "exited", "exited:", "exited:256", "exited:-1", "signaled:0", "signaled:x", "dead:1", "exited: 1"])
    func malformedExitStatusIsRejected(text: String) {
        #expect(throws: GuestProtocolError.self) { try GuestExitStatus.decode(text) }
    }

    @Test func signalRequestRoundTrip() throws {
        let request = SignalRequest(sequence: 12, signal: 15)
        #expect(request.encoded == "12:15")
        #expect(try SignalRequest.decode("12:15") == request)
    }

    @Test(arguments: ["", "15", "1:0", "1:128", "a:9", "1:9:3", "-1:9", ":9"])
    func malformedSignalRequestIsRejected(text: String) {
        #expect(throws: GuestProtocolError.self) { try SignalRequest.decode(text) }
    }
}
