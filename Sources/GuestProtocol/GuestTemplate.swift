/// What host and init agree on for VM templates (issue 17's lever 2): a share-mode guest booted
/// once with no container, saved by the host once init is ready, and restored for each container
/// with that container's shares and vifs in the restore's domain config. A restore skips the
/// kernel's boot, most of a guest's start (docs/fast-start.md).
///
/// The template's kernel command line carries `commandLineFlag`. Init then loads its modules,
/// reports `GuestReport.templateReady` and waits for `HostMessage.resumeFromTemplate`, which the
/// host writes into each restored copy before unpausing it.
public enum GuestTemplate {
    /// The word on the template's kernel command line; the kernel passes it on to init unread.
    public static let commandLineFlag = "runxl.template"
    /// The Xen domain name of a template while it boots and is saved, followed by its key.
    public static let domainNamePrefix = "runxl-template-"
    /// The fresh randomness each restored copy gets, in bytes (256 bits, a full CRNG seed).
    public static let seedBytes = 32

    /// Whether a kernel command line (`/proc/cmdline`) is a template's.
    public static func isTemplate(commandLine: String) -> Bool {
        commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).contains { $0 == Substring(commandLineFlag) }
    }
}

/// Lower-case hex, for byte values in xenstore (which holds text).
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Nil unless the text is an even number of hex digits.
    static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        func nibble(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
