public import RunxlBase

/// Parses the signal argument of `kill` as runc does: a number (`15`), a name (`TERM`,
/// `SIGTERM`) in any case.
public enum SignalName {
    /// Linux x86-64 numbering; a guest kernel uses the same numbers.
    public static let numbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
        "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
        "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
        "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
        "POLL": 29, "PWR": 30, "SYS": 31,
    ]
    public static let maximum: Int32 = 64

    /// 0 is accepted as runc accepts it: `kill ID 0` asks whether the container is alive.
    public static func parse(_ text: String) throws(RunxlError) -> Int32 {
        if let number = Int32(text) {
            guard number >= 0 && number <= maximum else {
                throw RunxlError(.invalidSignal, "invalid signal '\(text)': numbers run from 0 to \(maximum)")
            }
            return number
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = numbers[name] { return number }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), offset >= 0, 34 + offset <= maximum {
            return 34 + offset
        }
        throw RunxlError(.invalidSignal, "unknown signal '\(text)': use a number or a name such as TERM or SIGKILL")
    }
}
