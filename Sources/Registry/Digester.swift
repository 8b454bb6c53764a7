internal import CCurl
public import RunxlBase

/// SHA-256 of blob contents as they stream: libcrypto's when it loads (SHA-NI: about 1.7 GB/s
/// here), RunxlBase's portable one otherwise (about 150 MB/s).
///
/// Every byte of a pull or import is hashed on the way to disk, so for a 90 MB layer the
/// portable code alone would cost more than half a second, more than the whole transfer from a
/// local registry. libcrypto is already mapped by libcurl (the OpenSSL flavour) in a pull, so
/// using it adds no start-up cost there. It lives here because this module owns the C loader.
public final class Digester {
    private var context: UnsafeMutableRawPointer?
    private var portable: SHA256?
    public private(set) var count: Int64 = 0

    public init() {
        if runxl_crypto_load() == nil, let context = rx_sha256_new() {
            self.context = context
        } else {
            portable = SHA256()
        }
    }

    deinit { rx_sha256_free(context) }

    /// True when libcrypto does the work (for the benchmark notes and tests).
    public var usesLibcrypto: Bool { context != nil }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        count += Int64(bytes.count)
        if let context {
            if rx_sha256_update(context, base, bytes.count) != 1 { poison() }
        } else {
            portable?.update(bytes)
        }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Starts over, for a download that restarts from byte 0.
    public func reset() {
        count = 0
        if let context, rx_sha256_reset(context) == 1 { return }
        rx_sha256_free(context)
        context = nil
        portable = SHA256()
    }

    /// `sha256:` and 64 lowercase hex digits; the digester starts over afterwards.
    public func finalizeDigest() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        if let context, bytes.withUnsafeMutableBufferPointer({ rx_sha256_final(context, $0.baseAddress) }) == 1 {
            count = 0
            return "sha256:" + Hex.encode(bytes)
        }
        var hasher = portable ?? SHA256()
        portable = SHA256()
        count = 0
        return "sha256:" + hasher.finalizeHex()
    }

    /// The digest of a whole buffer.
    public static func digest(_ bytes: [UInt8]) -> String {
        let digester = Digester()
        digester.update(bytes)
        return digester.finalizeDigest()
    }

    private func poison() {
        // A failed libcrypto update leaves the running digest unknown: poison it so that the
        // comparison with the expected digest fails instead of passing by accident.
        rx_sha256_free(context)
        context = nil
        var poisoned = SHA256()
        poisoned.update("runxl: libcrypto failed mid-stream")
        portable = poisoned
    }

}

/// The image store lends it to Archive to check layers' diff_ids at libcrypto's speed.
extension Digester: StreamDigester {}
