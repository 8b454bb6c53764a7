/// SHA-256 (FIPS 180-4) for cache keys and content digests.
///
/// Cache keys name files that later runs trust as "the same guest": a weak hash would let a
/// crafted rootfs listing collide with another container's and boot its initramfs. It lives in
/// the leaf module so the guest builder and the image store agree on one implementation.
///
/// Image blobs are hundreds of megabytes and every byte is hashed while it streams in, so the
/// block function works on raw memory: the state lives in eight stored words, the message
/// schedule in a 16-word ring on the stack, and whole blocks are compressed straight from the
/// caller's buffer without copying. That is about twice the speed of the byte-at-a-time version (150 against 78 MB/s here) and keeps
/// RunxlBase free of a C dependency (a libcrypto with SHA-NI would be faster still; the pull
/// benchmark shows hashing is not what bounds a pull).
public struct SHA256: Sendable {
    private var h0: UInt32 = 0x6a09e667, h1: UInt32 = 0xbb67ae85, h2: UInt32 = 0x3c6ef372, h3: UInt32 = 0xa54ff53a
    private var h4: UInt32 = 0x510e527f, h5: UInt32 = 0x9b05688c, h6: UInt32 = 0x1f83d9ab, h7: UInt32 = 0x5be0cd19
    /// Bytes of an incomplete block, carried to the next update.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    /// The hex digest of a whole buffer in one call.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if handled != nil { return }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(4096)
        for byte in bytes {
            chunk.append(byte)
            if chunk.count == 4096 {
                chunk.withUnsafeBytes { update($0) }
                chunk.removeAll(keepingCapacity: true)
            }
        }
        chunk.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The fast path: whole blocks are compressed in place, only a partial block is copied.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: take))
            offset = take
            guard pending.count == 64 else { return }
            let block = pending
            block.withUnsafeBytes { compressBlocks($0.baseAddress.unsafelyUnwrapped, count: 1) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = (bytes.count - offset) / 64
        if whole > 0 {
            compressBlocks(base + offset, count: whole)
            offset += whole * 64
        }
        if offset < bytes.count {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset))
        }
    }

    /// The digest as 64 lowercase hex characters.
    public mutating func finalizeHex() -> String {
        Hex.encode(finalize())
    }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8((bitLength >> UInt64(shift)) & 0xFF)) }
        tail.withUnsafeBytes { compressBlocks($0.baseAddress.unsafelyUnwrapped, count: $0.count / 64) }
        pending.removeAll()
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for word in [h0, h1, h2, h3, h4, h5, h6, h7] {
            digest += [UInt8(word >> 24), UInt8((word >> 16) & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word & 0xFF)]
        }
        return digest
    }

    @inline(__always)
    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value &>> count) | (value &<< (32 &- count))
    }

    private mutating func compressBlocks(_ start: UnsafeRawPointer, count: Int) {
        Self.roundConstants.withUnsafeBufferPointer { constants in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { w in
                let k = constants.baseAddress.unsafelyUnwrapped
                let w = w.baseAddress.unsafelyUnwrapped
                var block = start
                for _ in 0..<count {
                    var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
                    @inline(__always) func round(_ i: Int, _ word: UInt32) {
                        let s1 = Self.rotate(e, 6) ^ Self.rotate(e, 11) ^ Self.rotate(e, 25)
                        let choice = g ^ (e & (f ^ g))
                        let t1 = h &+ s1 &+ choice &+ k[i] &+ word
                        let s0 = Self.rotate(a, 2) ^ Self.rotate(a, 13) ^ Self.rotate(a, 22)
                        let majority = (a & b) | (c & (a | b))
                        h = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ s0 &+ majority
                    }
                    for i in 0..<16 {
                        let word = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
                        w[i] = word
                        round(i, word)
                    }
                    for i in 16..<64 {
                        let w15 = w[(i &- 15) & 15], w2 = w[(i &- 2) & 15]
                        let s0 = Self.rotate(w15, 7) ^ Self.rotate(w15, 18) ^ (w15 &>> 3)
                        let s1 = Self.rotate(w2, 17) ^ Self.rotate(w2, 19) ^ (w2 &>> 10)
                        let word = w[i & 15] &+ s0 &+ w[(i &- 7) & 15] &+ s1
                        w[i & 15] = word
                        round(i, word)
                    }
                    h0 &+= a
                    h1 &+= b
                    h2 &+= c
                    h3 &+= d
                    h4 &+= e
                    h5 &+= f
                    h6 &+= g
                    h7 &+= h
                    block += 64
                }
            }
        }
    }
}

/// A running SHA-256 over a stream that one thread feeds and reads once the stream has ended.
///
/// A protocol so that the module that owns libcrypto (Registry's `Digester`, about 1.7 GB/s)
/// can lend it to modules that must not link it: Archive hashes every uncompressed byte of a
/// layer to check its diff_id, and with the portable code alone that would cost about 1.4 s
/// for a 200 MB layer.
public protocol StreamDigester: AnyObject {
    func update(_ bytes: UnsafeRawBufferPointer)
    /// `sha256:` and 64 lowercase hex digits.
    func finalizeDigest() -> String
}

/// Makes a fresh digester for each stream: a stream is hashed on its own thread, so digesters
/// are never shared, only the way to make them.
public typealias StreamDigesterFactory = @Sendable () -> any StreamDigester

/// `StreamDigester` over RunxlBase's portable `SHA256`, for callers without libcrypto at hand.
public final class PortableStreamDigester: StreamDigester {
    private var hasher = SHA256()

    public init() {}

    public func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }

    public func finalizeDigest() -> String { "sha256:" + hasher.finalizeHex() }
}
