
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

public enum LogFormat: String, Sendable {
    case text
    case json
}

/// runc-style logging: errors always reach stderr; with `--log` they are also appended to the
/// file, as one JSON object per line (`{"level","msg","time"}` plus our `code`) for podman and
/// containerd, which show the `msg` of the last error line to the user.
struct Logger: Sendable {
    let path: String?
    let format: LogFormat
    let debug: Bool

    func error(_ error: RunxlError) {
        write(to: 2, line(level: "error", message: error.description, code: error.code))
        if path != nil { append(line(level: "error", message: error.description, code: error.code)) }
    }

    /// Something went wrong that does not fail the verb (a poststart hook): stderr and the log.
    func warning(_ message: String) {
        write(to: 2, path == nil ? "runxl: warning: \(message)\n" : line(level: "warning", message: message, code: nil))
        if path != nil { append(line(level: "warning", message: message, code: nil)) }
    }

    func info(_ message: String) {
        if path != nil { append(line(level: "info", message: message, code: nil)) }
    }

    func debugMessage(_ message: String) {
        guard debug else { return }
        if path != nil { append(line(level: "debug", message: message, code: nil)) } else { write(to: 2, message + "\n") }
    }

    func line(level: String, message: String, code: RunxlError.Code?) -> String {
        let time = Clock.rfc3339Now()
        switch format {
        case .json:
            var fields = "{\"level\":\"\(level)\",\"msg\":\(Self.jsonString(message)),\"time\":\"\(time)\""
            if let code { fields += ",\"code\":\(code.rawValue)" }
            return fields + "}\n"
        case .text:
            let codeText = code.map { " code=\($0.rawValue)" } ?? ""
            if path == nil { return "runxl: \(message)\n" }
            return "time=\"\(time)\" level=\(level) msg=\(Self.jsonString(message))\(codeText)\n"
        }
    }

    private func append(_ text: String) {
        guard let path else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        write(to: fd, text)
        close(fd)
    }

    private func write(to fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        // A single write keeps a line whole when several runxl processes append at once.
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// A JSON string literal, escaped by hand: the error path must not pay for an encoder.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
