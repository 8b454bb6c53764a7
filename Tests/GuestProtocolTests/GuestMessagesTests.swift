import Testing

import GuestProtocol

@Suite struct GuestMessagesTests {
    @Test func keysLiveUnderTheGuestWritableDataDirectory() {
        for key in HostMessage.Kind.allCases.map(\.key) + GuestReport.Kind.allCases.map(\.key) {
            #expect(key.hasPrefix("data/runxl/"))
        }
        #expect(GuestStore.absolute(GuestReport.Kind.exit.key, domainID: 7) == "/local/domain/7/data/runxl/exit")
    }

    /// The wire as guests already running (and `xl create` configs already written) speak it.
    @Test func wireKeysAndValuesStayAsInitKnowsThem() {
        let sent: [(HostMessage, String, String)] = [
            (.holdAtGate, "data/runxl/start", "wait"), (.releaseGate, "data/runxl/start", "go"),
            (.signal(SignalRequest(sequence: 3, signal: 15)), "data/runxl/signal", "3:15"),
            (.windowSize(rows: 24, columns: 80), "data/runxl/winsize", "24 80"),
            (.stdinForwarded, "data/runxl/stdin", "1"),
            (.resumeFromTemplate(seed: [0x00, 0x7f, 0xab] + [UInt8](repeating: 0xff, count: 29)), "data/runxl/resume",
             "007fab" + String(repeating: "ff", count: 29)),
        ]
        for (message, key, value) in sent {
            #expect(message.kind.key == key)
            #expect(message.value == value)
        }
        #expect(HostMessage.Kind.signal.watchToken == "runxl-signal")
        #expect(HostMessage.Kind.start.watchToken == "runxl-start")
        #expect(HostMessage.Kind.windowSize.watchToken == "runxl-winsize")
        #expect(HostMessage.Kind.resume.watchToken == "runxl-resume")
        #expect(HostMessage.Kind.network.watchToken == nil)
        let reported: [(GuestReport, String, String)] = [
            (.ready(pid: 42), "data/runxl/ready", "42"), (.started(execSucceeded: true), "data/runxl/started", "exec"),
            (.started(execSucceeded: false), "data/runxl/started", "failed"), (.exit(.signaled(9)), "data/runxl/exit", "signaled:9"),
            (.templateReady, "data/runxl/template", "ready"),
        ]
        for (report, key, value) in reported {
            #expect(report.kind.key == key)
            #expect(report.value == value)
        }
    }

    @Test func everyMessageDecodesFromItsOwnKeyAndValue() throws {
        let network = GuestNetwork(interfaces: [.init(name: "eth0", mac: "02:00:00:00:00:01", mtu: 1500, addresses: [.init(address: "10.0.0.2", prefixLength: 24)])], routes: [])
        let messages: [HostMessage] = [
            .holdAtGate, .releaseGate, .network(network), .signal(SignalRequest(sequence: 1, signal: 2)),
            .windowSize(rows: 1, columns: 65535), .stdinForwarded,
            .resumeFromTemplate(seed: (0..<32).map { UInt8($0 * 8) }),
        ]
        for message in messages {
            #expect(try HostMessage.decode(message.kind, message.value) == message)
            #expect(try HostMessage.decode(key: "/local/domain/3/\(message.kind.key)", message.value) == message)
        }
        #expect(try HostMessage.decode(key: "/local/domain/3/data/runxl/ready", "1") == nil)
        for report in [GuestReport.ready(pid: 1), .started(execSucceeded: true), .started(execSucceeded: false), .exit(.failed("x:y")), .templateReady] {
            #expect(try GuestReport.decode(report.kind, report.value) == report)
        }
    }

    @Test func malformedMessagesAreRefused() {
        let host: [(HostMessage.Kind, String)] = [
            (.start, "maybe"), (.signal, "15"), (.windowSize, "24"), (.windowSize, "24 x"), (.windowSize, "24 80 1"),
            // A seed is exactly 32 bytes of hex: not shorter, not odd, not other characters.
            (.resume, ""), (.resume, String(repeating: "ab", count: 31)), (.resume, String(repeating: "ab", count: 32) + "a"),
            (.resume, String(repeating: "zz", count: 32)),
        ]
        for (kind, value) in host {
            #expect(throws: GuestProtocolError.self) { try HostMessage.decode(kind, value) }
        }
        let guest: [(GuestReport.Kind, String)] = [(.ready, "0"), (.ready, "pid"), (.started, "yes"), (.exit, "gone"), (.template, "go")]
        for (kind, value) in guest {
            #expect(throws: GuestProtocolError.self) { try GuestReport.decode(kind, value) }
        }
    }

    @Test func aLongExitReportIsCutToFitOneXenstoreMessage() {
        let report = GuestReport.exit(.failed(String(repeating: "m", count: 5000)))
        #expect(report.value.utf8.count == GuestReport.maxValueBytes)
        #expect(report.value.hasPrefix("failed:mmm"))
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

    /// Init looks for the word among the kernel's parameters, not for a substring of one.
    @Test func aTemplateIsKnownByTheWholeWordOnItsCommandLine() {
        #expect(GuestTemplate.isTemplate(commandLine: "console=hvc0 quiet rdinit=/.runxl/init runxl.template\n"))
        #expect(GuestTemplate.isTemplate(commandLine: "runxl.template console=hvc0"))
        #expect(!GuestTemplate.isTemplate(commandLine: "console=hvc0 quiet rdinit=/.runxl/init\n"))
        #expect(!GuestTemplate.isTemplate(commandLine: "runxl.templates x=runxl.template"))
    }
}
