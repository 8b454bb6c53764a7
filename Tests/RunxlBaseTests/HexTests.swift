import RunxlBase
import Testing

@Suite struct HexTests {
    @Test func encodesLowerCaseAndDecodesEitherCase() {
        #expect(Hex.encode([0x00, 0x7f, 0xab, 0xff]) == "007fabff")
        #expect(Hex.decode("007fabff") == [0x00, 0x7f, 0xab, 0xff])
        #expect(Hex.decode("ABff") == [0xab, 0xff])
        #expect(Hex.decode("") == [])
        let bytes = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
    }

    @Test func refusesOddLengthsAndOtherCharacters() {
        for text in ["a", "abc", "zz", "0x12", " 12", "1 2"] {
            #expect(Hex.decode(text) == nil)
        }
    }
}
