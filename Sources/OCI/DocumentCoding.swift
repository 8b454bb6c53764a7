// Reading and writing OCI JSON documents with errors that name the offending field.
public import FoundationEssentials
public import RunxlBase
import JSON

/// Where a field sits in a document, rendered the way users write it:
/// `linux.resources.hugepageLimits[0].pageSize`, `linux.sysctl["net.ipv4.ip_forward"]`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case member(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    init(codingPath: [any CodingKey]) {
        components = codingPath.map { key in
            if key is JSONIndexKey, let index = key.intValue { return .index(index) }
            return .member(key.stringValue)
        }
    }

    public subscript(member: String) -> FieldPath { FieldPath(components + [.member(member)]) }
    public subscript(index: Int) -> FieldPath { FieldPath(components + [.index(index)]) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .member(let name) where Self.isPlainName(name):
                text += text.isEmpty ? name : "." + name
            case .member(let name):
                text += "[\"\(name)\"]"
            }
        }
        return text
    }

    /// Names that read unambiguously after a dot; anything else (sysctl keys with dots,
    /// annotation keys) is quoted in brackets.
    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
                || scalar == "-"
        }
    }
}

/// A value that the schema forbids although its JSON type is right (an enum member, a pattern,
/// a minimum), or that runxl needs and the schema leaves optional.
public struct FieldViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: FieldPath
    public let problem: String

    public init(_ path: FieldPath, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { path.components.isEmpty ? problem : "\(path): \(problem)" }
}

/// A JSON document of the OCI specifications: decoded strictly, checked against the schema's
/// constraints that a `Codable` type cannot express, and encoded with sorted keys.
public protocol OCIDocument: Codable, Sendable, Equatable {
    /// The name errors start with when the caller gives none, e.g. `config.json`.
    static var documentName: String { get }
    /// The error code for a malformed document of this kind.
    static var invalidDocumentCode: RunxlError.Code { get }
    /// The schema's patterns, enums over free strings, minimums, `minItems`.
    func checkSchema() throws(FieldViolation)
}

extension OCIDocument {
    public func checkSchema() throws(FieldViolation) {}

    /// Parses, decodes and schema-checks a document. `documentName` (a path, for instance)
    /// starts every error message; errors carry `invalidDocumentCode`.
    public static func decode(_ bytes: [UInt8], documentName: String? = nil) throws(RunxlError) -> Self {
        let name = documentName ?? Self.documentName
        let document = try JSONDocument.decode(Self.self, from: bytes, documentName: name, code: invalidDocumentCode)
        do {
            try document.checkSchema()
        } catch {
            throw RunxlError(invalidDocumentCode, "\(name): \(error)")
        }
        return document
    }

    public static func decode(_ data: Data, documentName: String? = nil) throws(RunxlError) -> Self {
        try decode([UInt8](data), documentName: documentName)
    }

    /// Reads and decodes a file; a missing file is `missingCode` so that callers can tell
    /// "no such bundle" from "bad config".
    public static func load(path: String, missingCode: RunxlError.Code = .io) throws(RunxlError) -> Self {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile || error.code == .fileNoSuchFile {
            throw RunxlError(missingCode, "\(path) does not exist", cause: error)
        } catch {
            throw RunxlError(.io, "cannot read \(path)", cause: error)
        }
        return try decode(data, documentName: path)
    }

    /// The document as JSON: sorted keys, nil fields omitted, slashes unescaped.
    public func encoded(pretty: Bool = true) throws(RunxlError) -> Data {
        try JSONDocument.encode(self, pretty: pretty)
    }
}

/// Strict decoding of any `Decodable` from JSON with errors that name the field; usable for
/// runxl's own documents too (state records, image indexes).
public enum JSONDocument {
    public static func decode<T: Decodable>(
        _ type: T.Type, from bytes: [UInt8], documentName: String, code: RunxlError.Code
    ) throws(RunxlError) -> T {
        let tree: JSONValue
        do {
            tree = try JSONValue.parse(bytes)
        } catch {
            throw RunxlError(code, "\(documentName): not valid JSON: \(error)")
        }
        do {
            return try tree.decoded(as: T.self)
        } catch let error as DecodingError {
            throw RunxlError(code, "\(documentName): \(describe(error))")
        } catch {
            throw RunxlError(code, "\(documentName): \(error)")
        }
    }

    /// Through runxl's own encoder (the JSON module), so that numbers kept as text are
    /// written as they were read.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws(RunxlError) -> Data {
        do {
            return Data(try JSONValue.encoding(value).serialized(pretty: pretty))
        } catch {
            throw RunxlError(.internal, "cannot encode \(T.self) as JSON", cause: error)
        }
    }

    /// `field.path: problem` for the errors `JSONValue.decoded(as:)` and the spec's enums throw.
    static func describe(_ error: DecodingError) -> String {
        let path: FieldPath
        let problem: String
        switch error {
        case .keyNotFound(let key, let context):
            path = FieldPath(codingPath: context.codingPath + [key])
            problem = "required field is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = FieldPath(codingPath: context.codingPath)
            problem = context.debugDescription
        @unknown default:
            return "\(error)"
        }
        return FieldViolation(path, problem).description
    }
}
