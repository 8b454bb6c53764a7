import RunxlBase
import Testing

/// RunxlBase's SHA-256 (the state records' and runxl-init's hashing; Registry's fallback when
/// libcrypto is missing) against FIPS 180-2's vectors, whole and in pieces.
@Suite struct SHA256Tests {
    static let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test func knownVectors() {
        for (input, expected) in Self.vectors {
            var hasher = SHA256()
            hasher.update(input)
            #expect(hasher.finalizeHex() == expected)
        }
        var million = SHA256()
        million.update([UInt8](repeating: 0x61, count: 1_000_000))
        #expect(million.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Pieces of every size across block boundaries give the digest of the whole.
    @Test func chunkedUpdatesMatchTheWhole() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var whole = SHA256()
        whole.update(data)
        let expected = whole.finalizeHex()
        for step in [1, 3, 63, 64, 65, 127, 1000] {
            var pieces = SHA256()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + step)
                pieces.update(data[offset..<end])
                offset = end
            }
            #expect(pieces.finalizeHex() == expected, "step \(step)")
        }
    }
}
