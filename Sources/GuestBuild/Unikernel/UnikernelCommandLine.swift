public import RunxlBase

/// A unikernel's command line as typed parts; only `rendered()` turns it into the one string Xen
/// hands the guest, so no caller ever glues fragments together (urunc's mistake to avoid).
public struct UnikernelCommandLine: Sendable, Equatable {
    public enum Element: Sendable, Equatable {
        /// A token with no spaces: printable ASCII only (checked by `word(_:field:)`).
        case word(String)
        /// A token Unikraft's argument parser (uk_argnparse) reads back whole: rendered in double
        /// quotes. Holds no `"` or `\`, whose escapes that parser does not treat uniformly.
        case quoted(String)
        /// A JSON document, rendered compactly (rumprun's configuration).
        case json(UnikernelJSON)
        /// `--`: Unikraft's end of library parameters, start of the application's arguments.
        case argumentSeparator
    }

    public var elements: [Element]

    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    /// What Xen passes the guest. Fails when the result exceeds Xen's limit (MAX_GUEST_CMDLINE).
    public func rendered() throws(RunxlError) -> String {
        var parts: [String] = []
        for element in elements {
            switch element {
            case .word(let text): parts.append(text)
            case .quoted(let text): parts.append("\"" + text + "\"")
            case .json(let value): parts.append(value.rendered)
            case .argumentSeparator: parts.append("--")
            }
        }
        let line = parts.joined(separator: " ")
        guard line.utf8.count <= GuestLayout.maximumCommandLineLength else {
            throw RunxlError(
                .invalidConfig,
                "the unikernel's command line would be \(line.utf8.count) bytes; Xen allows "
                    + "\(GuestLayout.maximumCommandLineLength): shorten process.args, process.env or annotation "
                    + UnikernelAnnotations.Runxl.parameters)
        }
        return line
    }

    /// A token for a flavour that splits its command line at spaces. `field` names where the
    /// text came from (`process.args[2]`) for the error.
    public static func word(_ text: String, field: String) throws(RunxlError) -> Element {
        try requirePrintable(text, field: field)
        guard !text.isEmpty, !text.contains(" ") else {
            throw RunxlError(
                .invalidConfig,
                "\(field) is '\(text)': this unikernel splits its command line at spaces, so an argument "
                    + "must be non-empty and hold no space")
        }
        return .word(text)
    }

    /// A token for Unikraft: quoted when it holds a space or is empty.
    public static func unikraftToken(_ text: String, field: String) throws(RunxlError) -> Element {
        try requirePrintable(text, field: field)
        guard !text.contains("\""), !text.contains("\\"), !text.contains("'") else {
            throw RunxlError(
                .invalidConfig,
                "\(field) is '\(text)': quotes and backslashes cannot be passed through Unikraft's command line")
        }
        return text.isEmpty || text.contains(" ") ? .quoted(text) : .word(text)
    }

    /// Printable ASCII only: a control byte could end the xl.cfg string or the console line, and
    /// Xen passes the bytes unchanged.
    static func requirePrintable(_ text: String, field: String) throws(RunxlError) {
        guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw RunxlError(
                .invalidConfig, "\(field) may contain only printable ASCII characters to reach a unikernel's command line")
        }
    }
}

/// The JSON a unikernel reads from its command line. Objects keep their order and may repeat a
/// key: rumprun's configuration takes one `"env"` member per variable.
public indirect enum UnikernelJSON: Sendable, Equatable {
    case string(String)
    case object([Member])

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: UnikernelJSON
        public init(_ key: String, _ value: UnikernelJSON) {
            self.key = key
            self.value = value
        }
    }

    /// Compact, with `"` and `\` escaped; the strings were checked printable on the way in.
    public var rendered: String {
        switch self {
        case .string(let text): return Self.quote(text)
        case .object(let members):
            return "{" + members.map { Self.quote($0.key) + ":" + $0.value.rendered }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
