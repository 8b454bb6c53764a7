import Registry
import RunxlBase
import Testing

/// Registry's blob digester (libcrypto when it loads, RunxlBase's SHA-256 otherwise), whole and in
/// pieces.
@Suite struct DigesterTests {
    /// RunxlBase's SHA-256, checked against FIPS 180-2's vectors in RunxlBaseTests, is the reference.
    @Test func agreesWithTheReferenceHash() {
        for input in ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", String(repeating: "a", count: 100_000)] {
            var reference = SHA256()
            reference.update(input)
            #expect(Digester.digest(Array(input.utf8)) == "sha256:" + reference.finalizeHex())
        }
    }

    @Test func chunkedUpdatesMatchTheWhole() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var whole = SHA256()
        whole.update(data)
        let expected = whole.finalizeHex()
        for step in [1, 3, 63, 64, 65, 127, 1000] {
            let digester = Digester()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + step)
                data[offset..<end].withUnsafeBytes { digester.update($0) }
                offset = end
            }
            #expect(digester.finalizeDigest() == "sha256:" + expected, "step \(step)")
        }
    }

    @Test func blobDigestsUseLibcrypto() {
        #expect(Digester().usesLibcrypto, "libcrypto.so.3 should load where libcurl4 is installed")
    }
}
