import Foundation
import JSON
import OCI
import RunxlBase
import Testing

/// `JSONDocument.encode` writes what was read: numbers kept as text come back as that text, and
/// everything else is the text JSONEncoder wrote before (documents and digests stay the same).
@Suite struct JSONEncodingTests {
    /// The fuzz finding: `0.0` came back as `0`, `1E5` as `100000`, `-0` as `0`.
    @Test func numbersAreWrittenAsTheirSourceText() throws {
        let text = #"{"a":0.0,"b":1E5,"c":-0,"d":1.50,"e":18446744073709551615,"f":[2.5e-3,-9223372036854775808]}"#
        let value = try JSONValue.parse(Array(text.utf8))
        let written = String(decoding: try JSONDocument.encode(value, pretty: false), as: UTF8.self)
        #expect(written == text)
    }

    @Test func aSpecWithFreeFormNumbersSurvivesEncodeAndDecode() throws {
        let text = #"{"ociVersion":"1.2.0","windows":{"layerFolders":["C:\\l"],"credentialSpec":{"Ratio":0.0,"Big":1e300}}}"#
        let spec = try Spec.decode(Array(text.utf8))
        let written = String(decoding: try spec.encoded(pretty: false), as: UTF8.self)
        #expect(written.contains(#""Ratio":0.0"#), "\(written)")
        #expect(written.contains(#""Big":1e300"#), "\(written)")
        #expect(try Spec.decode(Array(written.utf8)) == spec)
    }

    /// Apart from numbers, the text is JSONEncoder's (`.sortedKeys`, `.withoutEscapingSlashes`,
    /// and `.prettyPrinted`), byte for byte: sorting, escapes, empty containers, indentation.
    @Test(arguments: [true, false]) func theTextIsJSONEncodersOtherwise(pretty: Bool) throws {
        struct Sample: Encodable {
            var members = ["a10": 1, "a9": 2, "B": 3, "a": 4, "_x": 5, "Ä": 6, "a-b": 7]
            var empty: [Int] = []
            var emptyObject: [String: Int] = [:]
            var nested: [[String: [Int]]] = [["k": []], [:]]
            var real = 0.5
            var whole = 100.0
            var small = 1.5e-7
            var large = 1e20
            var text = "a/b\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}<é\u{2028}"
            var missing: Int? = nil
            var present: Bool? = true
            var unsigned: UInt64 = .max
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        let expected = String(decoding: try encoder.encode(Sample()), as: UTF8.self)
        let written = String(decoding: try JSONDocument.encode(Sample(), pretty: pretty), as: UTF8.self)
        #expect(written == expected)
    }

    /// The upstream fixtures hold only integers, so there the old encoder's text is the new one's.
    @Test(arguments: try fixtureNames(in: "test/config/good"))
    func upstreamConfigsEncodeAsBefore(name: String) throws {
        let spec = try Spec.decode(try fixture("test/config/good/\(name)"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        #expect(try spec.encoded(pretty: true) == encoder.encode(spec))
    }
}
