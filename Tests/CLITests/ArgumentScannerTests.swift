@testable import RunxlCommands
import RunxlBase
import Testing

/// The parser follows runc's (urfave/cli) conventions, which podman, conmon and containerd rely on.
@Suite struct ArgumentScannerTests {
    let flags = CreateFlags.flags + [FlagSpec("detach", short: "d", help: "")]

    func parse(_ arguments: [String]) throws(RunxlError) -> ParsedArguments {
        try ArgumentScanner.parse(arguments[...], flags: flags, verb: "create", stopAtPositional: false).0
    }

    @Test func acceptsEveryRuncSpellingOfAValueFlag() throws {
        for spelling in [["--bundle", "/b"], ["--bundle=/b"], ["-b", "/b"], ["-bundle", "/b"], ["-b=/b"]] {
            let parsed = try parse(spelling + ["id"])
            #expect(parsed.value("bundle") == "/b", "\(spelling)")
            #expect(parsed.positionals == ["id"], "\(spelling)")
        }
    }

    @Test func flagsMayFollowPositionals() throws {
        let parsed = try parse(["id", "--pid-file", "/p", "-d"])
        #expect(parsed.positionals == ["id"])
        #expect(parsed.value("pid-file") == "/p")
        #expect(parsed.isSet("detach"))
    }

    @Test func doubleDashEndsFlags() throws {
        let parsed = try parse(["id", "--", "sh", "-c", "--bundle"])
        #expect(parsed.passthrough == ["sh", "-c", "--bundle"])
        #expect(parsed.value("bundle") == nil)
    }

    @Test func globalFlagsStopAtTheVerb() throws {
        let (global, rest) = try ArgumentScanner.parse(
            ["--root", "/r", "--log-format=json", "--debug", "state", "--root", "x"][...], flags: GlobalOptions.flags,
            verb: "", stopAtPositional: true)
        #expect(global.value("root") == "/r")
        #expect(global.value("log-format") == "json")
        #expect(global.isSet("debug"))
        #expect(Array(rest) == ["state", "--root", "x"])
    }

    @Test(arguments: [["--bogus"], ["--bundle"], ["--detach=maybe"]])
    func refusesBadFlags(_ arguments: [String]) {
        do {
            _ = try parse(arguments)
            Issue.record("\(arguments) must be refused")
        } catch {
            #expect(error.code == .usage)
        }
    }

    @Test func booleanFlagTakesExplicitTrueOrFalse() throws {
        #expect(try parse(["--detach=true"]).isSet("detach"))
        #expect(try !parse(["--detach=false"]).isSet("detach"))
    }
}
