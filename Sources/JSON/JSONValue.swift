// The one JSON layer of runxl and runxl-init: this value type, one parser (JSONParser.swift), one
// writer (JSONWriter.swift) and a Codable bridge both ways. It imports no Foundation, so the
// static init links it as the host does, and both read a document by the same rules:
// - RFC 8259, strictly, with errors at a line and column;
// - a repeated member name keeps the last value, as in Go's encoding/json (runc, containerd,
//   podman), so a config.json means here what it means to the tools that wrote it;
// - nesting deeper than 512 levels is refused rather than risking the stack;
// - numbers keep their text, so a 64-bit value (a hugepage limit, a seccomp argument) is never
//   squeezed through `Double`;
// - the writer sorts members by name, so equal values give equal bytes (digests, cached
//   initramfs).

/// Any JSON value: the spec's free-form objects (Windows `credentialSpec`), the tree that OCI's
/// `JSONDocument` decodes from (which is what lets errors name the offending field), and the
/// guest protocol's documents.
///
/// Numbers keep their source text: a `uint64` such as a hugepage limit is never squeezed
/// through `Double`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number exactly as written in the document (valid JSON number syntax).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name used in error messages ("a string", "an object").
    var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let tree = decoder as? JSONValueDecoder {
            self = tree.value
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(String(value))
        } else if let value = try? container.decode(UInt64.self) {
            self = .number(String(value))
        } else if let value = try? container.decode(Double.self) {
            self = .number(String(value))
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let text):
            if let value = Int64(text) {
                try container.encode(value)
            } else if let value = UInt64(text) {
                try container.encode(value)
            } else if let value = Double(text), value.isFinite {
                try container.encode(value)
            } else {
                throw EncodingError.invalidValue(
                    text, .init(codingPath: encoder.codingPath, debugDescription: "\(text) is not a finite number"))
            }
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let members): try container.encode(members)
        }
    }
}
