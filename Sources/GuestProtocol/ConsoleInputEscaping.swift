/// The host-to-guest direction of the console never carries the byte 0x0F.
///
/// Why: Linux's hvc driver treats ^O (0x0F) on the console hvc as its SysRq prefix when the
/// kernel has CONFIG_MAGIC_SYSRQ (Debian's kernels do). The driver drops the 0x0F, hands the
/// next byte to SysRq (where Debian's default mask allows sync, remount read-only, reboot and
/// power-off) and drops that byte too. Frames are binary (lengths, session numbers, CRCs, a
/// user's input), so about one frame in sixty lost two bytes and was thrown away by its checksum:
/// an exec session whose start lost its first part read garbage, one that lost its last part
/// never started. Escaping on the wire makes the channel lossless whatever the guest kernel's
/// configuration, and leaves no byte for SysRq to act on.
///
/// The scheme: 0x0F is sent as `FE 01` and the escape byte 0xFE as `FE 02`; nothing else changes.
public enum ConsoleInputEscaping {
    static let forbidden: UInt8 = 0x0F
    static let escape: UInt8 = 0xFE

    /// The bytes as the host writes them to the guest's console.
    public static func escaped(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 64 + 2)
        for byte in bytes {
            switch byte {
            case forbidden: output += [escape, 0x01]
            case escape: output += [escape, 0x02]
            default: output.append(byte)
            }
        }
        return output
    }
}

/// The guest's side: undoes `ConsoleInputEscaping` on chunks cut anywhere (an escape byte may end
/// one read and its partner start the next).
public struct ConsoleInputUnescaper: Sendable {
    private var escapePending = false

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        for byte in bytes {
            if escapePending {
                escapePending = false
                switch byte {
                case 0x01: output.append(ConsoleInputEscaping.forbidden)
                case 0x02: output.append(ConsoleInputEscaping.escape)
                // Not something the host writes: kept, so that the frame's checksum rejects it.
                default: output += [ConsoleInputEscaping.escape, byte]
                }
            } else if byte == ConsoleInputEscaping.escape {
                escapePending = true
            } else {
                output.append(byte)
            }
        }
        return output
    }
}
