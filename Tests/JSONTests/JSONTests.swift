@testable import JSON
import Testing

/// The rules every JSON document of runxl and runxl-init is read by (JSONValue.swift).
@Suite struct JSONRulesTests {
    /// Go's encoding/json keeps the last value of a repeated name; so must runxl, or a
    /// config.json a Go tool accepted would mean something else here.
    @Test func aRepeatedMemberNameKeepsTheLastValue() throws {
        let value = try JSONValue.parse(Array(#"{"a":1,"b":[true],"a":{"c":"x"}}"#.utf8))
        #expect(value == .object(["a": .object(["c": .string("x")]), "b": .array([.bool(true)])]))
    }

    @Test func nestingIsAllowedToTheLimitAndRefusedPastIt() throws {
        let limit = JSONValue.maximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        _ = try JSONValue.parse(Array(deepest.utf8))
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(throws: JSONSyntaxError(line: 1, column: limit + 1, problem: "nesting deeper than \(limit) levels")) {
            try JSONValue.parse(Array(tooDeep.utf8))
        }
    }

    @Test func errorsSayWhereByLineAndColumn() {
        #expect(throws: JSONSyntaxError(line: 3, column: 7, problem: "expected ':' after \"b\", found '\"'")) {
            try JSONValue.parse(Array("{\n  \"a\": 1,\n  \"b\" \"c\"}".utf8))
        }
    }

    @Test func numbersKeepTheirTextAndSixtyFourBits() throws {
        let value = try JSONValue.parse(Array("[18446744073709551615, -0, 1e5, 0.50]".utf8))
        #expect(value == .array([.number("18446744073709551615"), .number("-0"), .number("1e5"), .number("0.50")]))
        #expect(value.serialized(pretty: false) == Array("[18446744073709551615,-0,1e5,0.50]".utf8))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "01", "1e999", "\"\u{1}\"", "tru", "[1] x", "\"\\x\"", "\"\\ud800\""])
    func malformedDocumentsAreRefused(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    /// The cached initramfs and image digests depend on it: equal values, equal bytes, whatever
    /// order the members were added in.
    @Test func theWriterSortsMembersSoEqualValuesGiveEqualBytes() throws {
        var first: [String: JSONValue] = [:]
        var second: [String: JSONValue] = [:]
        let names = (0..<50).map { "member\($0)" }
        for name in names { first[name] = .string(name) }
        for name in names.reversed() { second[name] = .string(name) }
        let written = JSONValue.object(first).serialized(pretty: false)
        #expect(written == JSONValue.object(second).serialized(pretty: false))
        #expect(String(decoding: written, as: UTF8.self).hasPrefix(#"{"member0":"member0","member1":"member1","member10":"#))
        #expect(try JSONValue.parse(written) == .object(first))
    }
}

/// The Codable bridge that state records, the fake hypervisor's world and `ip -json` go through.
@Suite struct JSONCodableTests {
    struct Record: Codable, Equatable {
        var name: String
        var count: Int32?
        var limit: UInt64
        var byDomain: [UInt32: String]
        var labels: [String: String]
        var ratio: Double
    }

    @Test func aRecordRoundTrips() throws {
        let record = Record(
            name: "a/b \"c\"", count: nil, limit: .max, byDomain: [7: "x", 12: "y"], labels: ["k.l": "v"], ratio: 0.25)
        let bytes = try JSONValue.encoding(record).serialized(pretty: false)
        #expect(try JSONValue.parse(bytes).decoded(as: Record.self) == record)
    }

    /// `ip -json` prints far more than runxl reads, and records from a newer runxl may carry
    /// fields this one does not know.
    @Test func unknownMembersAreIgnoredAndNullIsAbsent() throws {
        let text = #"{"name":"n","count":null,"limit":1,"byDomain":[],"labels":{},"ratio":1,"extra":{"deep":[1,2]}}"#
        let record = try JSONValue.parse(Array(text.utf8)).decoded(as: Record.self)
        #expect(record == Record(name: "n", count: nil, limit: 1, byDomain: [:], labels: [:], ratio: 1))
    }

    @Test func aWrongTypeIsADecodingErrorAtItsPath() throws {
        let text = #"{"name":"n","limit":-1,"byDomain":[],"labels":{},"ratio":1}"#
        do {
            _ = try JSONValue.parse(Array(text.utf8)).decoded(as: Record.self)
            Issue.record("decoded")
        } catch let error as DecodingError {
            guard case .dataCorrupted(let context) = error else { Issue.record("\(error)"); return }
            #expect(context.codingPath.map(\.stringValue) == ["limit"])
        }
    }
}
