import Testing

@testable import GuestProtocol

@Suite struct ProcessDescriptionTests {
    static let full = ProcessDescription(
        args: ["/bin/sh", "-c", "echo \"hi\" \\ \u{1}\n\t☃ 😀"],
        env: ["PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY="],
        cwd: "/work dir",
        user: .init(uid: 1000, gid: 1000, additionalGids: [5, 10, 4_294_967_294], umask: 0o027),
        rlimits: [.init(type: "RLIMIT_NOFILE", soft: 1024, hard: 4096), .init(type: "RLIMIT_CORE", soft: 0, hard: UInt64.max)],
        noNewPrivileges: true,
        hostname: "box",
        terminal: true,
        mounts: [
            .init(destination: "/proc", type: "proc", source: "proc"),
            .init(destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        ],
        capabilities: .init(bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"]),
        maskedPaths: ["/proc/kcore"],
        readonlyPaths: ["/proc/sys"],
        readonlyRoot: true,
        sysctl: [.init(key: "net.ipv4.ip_forward", value: "1")],
        devices: [
            .init(path: "/dev/test1", kind: .character, major: 10, minor: 666, fileMode: 0o660, uid: 1, gid: 2),
            .init(path: "/dev/sub/fifo", kind: .fifo, fileMode: 0o600),
        ],
        seccomp: SeccompProfile(
            defaultAction: .errno, defaultErrnoRet: 1, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            flags: ["SECCOMP_FILTER_FLAG_LOG"],
            syscalls: [
                SeccompRule(names: ["read", "write"], action: .allow),
                SeccompRule(
                    names: ["personality"], action: .allow,
                    args: [SeccompArgument(index: 0, value: 0xFFFF_FFFF_FFFF_FFFF, valueTwo: 8, op: .maskedEqual)]),
                SeccompRule(names: ["mkdir"], action: .errno, errnoRet: 13),
            ]),
        pidNamespace: true,
        oomScoreAdj: -500,
        consoleSize: .init(rows: 21, columns: 71),
        onlineVcpus: 3)

    @Test func fullRoundTrip() throws {
        let bytes = Self.full.encoded()
        #expect(try ProcessDescription.decode(bytes) == Self.full)
        // Deterministic output.
        #expect(Self.full.encoded() == bytes)
    }

    @Test func minimalRoundTrip() throws {
        let minimal = ProcessDescription(args: ["true"])
        #expect(try ProcessDescription.decode(minimal.encoded()) == minimal)
        // No devices, no key: descriptions from before the field keep their bytes (and cache).
        #expect(!String(decoding: minimal.encoded(), as: UTF8.self).contains("devices"))
        #expect(!String(decoding: minimal.encoded(), as: UTF8.self).contains("consoleSize"))
    }

    @Test func handWrittenDocumentWithDefaults() throws {
        let text = #"{ "version": 1, "args": ["sleep", "1"], "env": ["A=\u00e9\ud83d\ude00"], "hostname": null }"#
        let description = try ProcessDescription.decode(Array(text.utf8))
        #expect(description.args == ["sleep", "1"])
        #expect(description.env == ["A=é😀"])
        #expect(description.cwd == "/")
        #expect(description.user == .init())
        #expect(description.hostname == nil)
        #expect(description.seccomp == nil)
    }

    @Test(arguments: [
        "", "{", "[]", "null", #"{"version":1}"#, #"{"version":2,"args":["a"]}"#,
        #"{"version":1,"args":[]}"#, #"{"version":1,"args":["a"],"bogus":true}"#,
        #"{"version":1,"args":["a\u0000b"]}"#,
        #"{"version":1,"args":["a"],"cwd":"relative"}"#, #"{"version":1,"args":["a"],"user":{"uid":-1}}"#,
        #"{"version":1,"args":["a"],"user":{"uid":4294967296}}"#, #"{"version":1,"args":["a"],"user":{"uid":1.5}}"#,
        #"{"version":1,"args":["a"],"user":{"umask":99999}}"#,
        #"{"version":1,"args":["a"],"rlimits":[{"type":"RLIMIT_BOGUS","soft":1,"hard":1}]}"#,
        #"{"version":1,"args":["a"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":2,"hard":1}]}"#,
        #"{"version":1,"args":["a"],"seccomp":{"defaultAction":"SCMP_ACT_NOPE"}}"#,
        #"{"version":1,"args":["a"],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}}"#,
        #"{"version":1,"args":["a"]} x"#, #"{"version":1,"args":["\ud800"]}"#, #"{"version":1,"args":["a"],}"#,
        #"{"version":01,"args":["a"]}"#, #"{"version":1,"args":["a"],"terminal":"yes"}"#,
        "{\"version\":1,\"args\":[\"a\tb\"]}",
        #"{"version":1,"args":["a"],"devices":[{"path":"/dev/x","type":"x"}]}"#,
        #"{"version":1,"args":["a"],"devices":[{"path":"dev/x","type":"c"}]}"#,
        #"{"version":1,"args":["a"],"devices":[{"path":"/dev/x","type":"c","fileMode":99999}]}"#,
        #"{"version":1,"args":["a"],"devices":[{"type":"c"}]}"#,
        #"{"version":1,"args":["a"],"oomScoreAdj":1001}"#, #"{"version":1,"args":["a"],"oomScoreAdj":"5"}"#,
        #"{"version":1,"args":["a"],"consoleSize":{"height":0,"width":80}}"#,
        #"{"version":1,"args":["a"],"consoleSize":{"height":24,"width":65536}}"#,
        #"{"version":1,"args":["a"],"consoleSize":{"height":24}}"#,
        #"{"version":1,"args":["a"],"consoleSize":{"height":24,"width":80,"depth":1}}"#,
        #"{"version":1,"args":["a"],"onlineVcpus":0}"#, #"{"version":1,"args":["a"],"onlineVcpus":129}"#,
        #"{"version":1,"args":["a"],"onlineVcpus":"2"}"#,
    ])
    func malformedDocumentsAreRejected(text: String) {
        #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRejected() {
        let bytes = Array(#"{"version":1,"args":[""#.utf8) + [0xC3, 0x28] + Array(#""]}"#.utf8)
        #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(bytes) }
    }

    @Test func deepNestingIsRejectedWithoutCrashing() {
        let bytes = Array(repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: GuestProtocolError.self) { try ProcessDescription.decode(bytes) }
    }

    @Test func errorsNameTheField() {
        do {
            _ = try ProcessDescription.decode(Array(#"{"version":1,"args":["a"],"mounts":[{"destination":"/x","options":[1]}]}"#.utf8))
            Issue.record("decoded")
        } catch {
            #expect(error.message.contains("process.mounts[0].options[0]"))
        }
    }

    @Test func everyTruncationAndByteFlipOfAValidFileFailsCleanly() {
        let bytes = Self.full.encoded()
        for length in 0..<bytes.count {
            _ = try? ProcessDescription.decode(Array(bytes[..<length]))
        }
        var generator = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            var mutated = bytes
            let position = Int(generator.next() % UInt64(mutated.count))
            mutated[position] = UInt8(truncatingIfNeeded: generator.next())
            _ = try? ProcessDescription.decode(mutated)
        }
    }

    /// The JSON module's rule, the same as for config.json: the last of a repeated name wins.
    @Test func aRepeatedFieldKeepsItsLastValue() throws {
        let description = try ProcessDescription.decode(Array(#"{"version":1,"args":["first"],"args":["last"]}"#.utf8))
        #expect(description.args == ["last"])
    }

    @Test func syntaxErrorsSayWhere() {
        #expect(throws: GuestProtocolError("process file: line 1, column 12: expected a value, found '}'")) {
            try ProcessDescription.decode(Array(#"{"version":}"#.utf8))
        }
    }
}
