// A `Decoder` over a parsed `JSONValue` tree whose errors carry the exact coding path and say what
// was expected and what was found, so that `JSONDocument` can name the offending field.

/// The coding key of an array element; field paths render it as `[n]`.
public struct JSONIndexKey: CodingKey {
    public let intValue: Int?
    public var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    public init?(stringValue: String) { nil }
    public init?(intValue: Int) { self.intValue = intValue }
}

/// An object member name met while decoding (dictionary keys, super decoders).
struct MemberKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension JSONValue {
    /// Decodes a `Decodable` from this tree. Errors are `DecodingError`s whose coding path is
    /// exact and whose text says what was expected and found (OCI's `JSONDocument` turns them
    /// into `field.path: problem`).
    public func decoded<T: Decodable>(as type: T.Type) throws -> T {
        try T(from: JSONValueDecoder(value: self, codingPath: []))
    }
}

struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch(Dictionary<String, Any>.self, "an object", value, codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch(Array<Any>.self, "an array", value, codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(value: value, codingPath: codingPath)
    }
}

// MARK: unboxing

func mismatch(_ type: Any.Type, _ expected: String, _ found: JSONValue, _ path: [any CodingKey]) -> DecodingError {
    let context = DecodingError.Context(codingPath: path, debugDescription: "expected \(expected), found \(found.kindDescription)")
    if case .null = found { return .valueNotFound(type, context) }
    return .typeMismatch(type, context)
}

func unboxBool(_ value: JSONValue, _ path: [any CodingKey]) throws -> Bool {
    guard case .bool(let flag) = value else { throw mismatch(Bool.self, "a boolean", value, path) }
    return flag
}

func unboxString(_ value: JSONValue, _ path: [any CodingKey]) throws -> String {
    guard case .string(let text) = value else { throw mismatch(String.self, "a string", value, path) }
    return text
}

func unboxInteger<T: FixedWidthInteger>(_ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> T {
    let range = "\(T.min)...\(T.max)"
    guard case .number(let text) = value else { throw mismatch(T.self, "an integer in \(range)", value, path) }
    if let exact = T(text) { return exact }
    // 1e3 or 2.0 are integers written differently; 1.5 and out-of-range values are not.
    if let real = Double(text), real.rounded() == real, let converted = T(exactly: real) { return converted }
    throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "expected an integer in \(range), found \(text)"))
}

func unboxFloatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(
    _ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]
) throws -> T {
    guard case .number(let text) = value else { throw mismatch(T.self, "a number", value, path) }
    guard let real = T(text), real.isFinite else {
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(text) does not fit in \(T.self)"))
    }
    return real
}

func unbox<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> T {
    try T(from: JSONValueDecoder(value: value, codingPath: path))
}

// MARK: containers

struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.sorted().compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required field is missing"))
        }
        return value
    }
    func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try member(key) { return true }
        return false
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try unboxBool(member(key), path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try unboxString(member(key), path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try unboxFloatingPoint(type, member(key), path(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try unboxFloatingPoint(type, member(key), path(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try unboxInteger(type, member(key), path(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try unboxInteger(type, member(key), path(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try unbox(type, member(key), path(key)) }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: member(key), codingPath: path(key)).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: member(key), codingPath: path(key)).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder {
        JSONValueDecoder(value: members["super"] ?? .null, codingPath: codingPath + [MemberKey("super")])
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoder(value: members[key.stringValue] ?? .null, codingPath: path(key))
    }
}

struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    /// The next element and its path; advances only when `body` succeeds, as the protocol asks.
    mutating func next<T>(_ body: (JSONValue, [any CodingKey]) throws -> T) throws -> T {
        let path = codingPath + [JSONIndexKey(currentIndex)]
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: path, debugDescription: "the array has no more elements"))
        }
        let result = try body(elements[currentIndex], path)
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = elements[currentIndex] else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(unboxBool) }
    mutating func decode(_ type: String.Type) throws -> String { try next(unboxString) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next { try unboxFloatingPoint(type, $0, $1) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try next { try unboxFloatingPoint(type, $0, $1) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next { try unboxInteger(type, $0, $1) } }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next { try unbox(type, $0, $1) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next { try JSONValueDecoder(value: $0, codingPath: $1).container(keyedBy: type) }
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next { try JSONValueDecoder(value: $0, codingPath: $1).unkeyedContainer() }
    }
    mutating func superDecoder() throws -> any Decoder {
        try next { JSONValueDecoder(value: $0, codingPath: $1) }
    }
}

struct SingleValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }
    func decode(_ type: Bool.Type) throws -> Bool { try unboxBool(value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try unboxString(value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try unboxFloatingPoint(type, value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try unboxFloatingPoint(type, value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try unboxInteger(type, value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try unboxInteger(type, value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try unboxInteger(type, value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try unboxInteger(type, value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(type, value, codingPath) }
}
