// Writing a `JSONValue` as text: the one writer of runxl and runxl-init.

extension JSONValue {
    /// The document's text: members sorted by their names' bytes, `/` unescaped, numbers as
    /// their source text; `pretty` indents by two spaces and writes `"name" : value`, as
    /// JSONEncoder's `.prettyPrinted` does.
    public func serialized(pretty: Bool) -> [UInt8] {
        var output: [UInt8] = []
        write(into: &output, pretty: pretty, depth: 0)
        return output
    }

    private func write(into output: inout [UInt8], pretty: Bool, depth: Int) {
        switch self {
        case .null: output += Array("null".utf8)
        case .bool(let flag): output += Array((flag ? "true" : "false").utf8)
        case .number(let text): output += Array(text.utf8)
        case .string(let text): Self.writeString(text, into: &output)
        case .array(let elements):
            Self.writeContainer(
                open: UInt8(ascii: "["), close: UInt8(ascii: "]"), count: elements.count, into: &output, pretty: pretty,
                depth: depth
            ) { index, output in
                elements[index].write(into: &output, pretty: pretty, depth: depth + 1)
            }
        case .object(let members):
            let names = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            Self.writeContainer(
                open: UInt8(ascii: "{"), close: UInt8(ascii: "}"), count: names.count, into: &output, pretty: pretty,
                depth: depth
            ) { index, output in
                Self.writeString(names[index], into: &output)
                output += Array((pretty ? " : " : ":").utf8)
                members[names[index]]?.write(into: &output, pretty: pretty, depth: depth + 1)
            }
        }
    }

    /// JSONEncoder writes an empty container pretty-printed as an open line: `[\n\n  ]`.
    private static func writeContainer(
        open: UInt8, close: UInt8, count: Int, into output: inout [UInt8], pretty: Bool, depth: Int,
        element: (Int, inout [UInt8]) -> Void
    ) {
        output.append(open)
        if pretty { output.append(0x0A) }
        for index in 0..<count {
            if index > 0 { output += pretty ? [UInt8(ascii: ","), 0x0A] : [UInt8(ascii: ",")] }
            if pretty { output += [UInt8](repeating: 0x20, count: 2 * (depth + 1)) }
            element(index, &output)
        }
        if pretty {
            output.append(0x0A)
            output += [UInt8](repeating: 0x20, count: 2 * depth)
        }
        output.append(close)
    }

    /// JSONEncoder's escapes: the two-character forms it has, `\u00xx` (lower-case hex) for other
    /// control characters, everything else as UTF-8.
    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: output += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: output += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
