// An `Encoder` that builds a `JSONValue` tree (JSONWriter.swift prints it).
//
// Why not JSONEncoder: it writes a number only from a Swift number, so a `JSONValue.number` read
// as `0.0` or `1E5` went through `Double` and came back `0` or `100000`: what runxl read was not
// what it wrote (Tests/Fuzz, config-json). Through the tree, a `JSONValue` is stored as read and
// its numbers are written as their source text. The text is otherwise JSONEncoder's with
// `.sortedKeys` and `.withoutEscapingSlashes` (and `.prettyPrinted`), byte for byte, so documents
// and digests runxl wrote before do not change. runxl's documents hold no `Date`, `Data` or `URL`,
// the types JSONEncoder would special-case.

/// A value under construction. Codable hands out nested containers before they are filled, so
/// the tree is built from reference boxes and turned into a `JSONValue` at the end.
final class EncodingBox {
    enum Shape {
        /// Nothing encoded yet: JSONEncoder writes such a value as `{}`.
        case unset
        case scalar(JSONValue)
        case object
        case array
    }

    var shape: Shape = .unset
    var members: [String: EncodingBox] = [:]
    var elements: [EncodingBox] = []

    func becomeObject() {
        if case .object = shape { return }
        shape = .object
        members = [:]
    }

    func becomeArray() {
        if case .array = shape { return }
        shape = .array
        elements = []
    }

    func member(_ name: String) -> EncodingBox {
        let child = EncodingBox()
        members[name] = child
        return child
    }

    func appended() -> EncodingBox {
        let child = EncodingBox()
        elements.append(child)
        return child
    }

    var value: JSONValue {
        switch shape {
        case .unset: .object([:])
        case .scalar(let value): value
        case .object: .object(members.mapValues(\.value))
        case .array: .array(elements.map(\.value))
        }
    }
}

struct JSONValueEncoder: Encoder {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        box.becomeObject()
        return KeyedEncodingContainer(KeyedBoxContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        box.becomeArray()
        return UnkeyedBoxContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleBoxContainer(box: box, codingPath: codingPath)
    }
}

extension JSONValue {
    /// The tree `value` encodes to; a `JSONValue` inside it is kept as it is.
    public static func encoding(_ value: some Encodable) throws -> JSONValue {
        let box = EncodingBox()
        try encode(value, into: box, codingPath: [])
        return box.value
    }

    static func encode(_ value: some Encodable, into box: EncodingBox, codingPath: [any CodingKey]) throws {
        if let tree = value as? JSONValue {
            box.shape = .scalar(tree)
            return
        }
        try value.encode(to: JSONValueEncoder(box: box, codingPath: codingPath))
    }

    /// JSONEncoder's text for a floating-point value: Swift's shortest round-trip digits without
    /// a trailing `.0`; infinities and NaN have no JSON form.
    static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F, _ codingPath: [any CodingKey]
    ) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: codingPath, debugDescription: "\(value) has no JSON form"))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }
}

struct KeyedBoxContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: EncodingBox
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) { box.member(key.stringValue).shape = .scalar(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) { box.member(key.stringValue).shape = .scalar(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) { box.member(key.stringValue).shape = .scalar(.string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        box.member(key.stringValue).shape = .scalar(try JSONValue.number(value, codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        box.member(key.stringValue).shape = .scalar(try JSONValue.number(value, codingPath + [key]))
    }
    mutating func encode(_ value: Int, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) { integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) { integer(value, key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try JSONValue.encode(value, into: box.member(key.stringValue), codingPath: codingPath + [key])
    }

    func integer(_ value: some FixedWidthInteger, _ key: Key) {
        box.member(key.stringValue).shape = .scalar(.number(String(value)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let child = box.member(key.stringValue)
        child.becomeObject()
        return KeyedEncodingContainer(KeyedBoxContainer<NestedKey>(box: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = box.member(key.stringValue)
        child.becomeArray()
        return UnkeyedBoxContainer(box: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        JSONValueEncoder(box: box.member("super"), codingPath: codingPath + [MemberKey("super")])
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONValueEncoder(box: box.member(key.stringValue), codingPath: codingPath + [key])
    }
}

struct UnkeyedBoxContainer: UnkeyedEncodingContainer {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    var count: Int { box.elements.count }

    var nextPath: [any CodingKey] { codingPath + [JSONIndexKey(box.elements.count)] }

    mutating func encodeNil() { box.appended().shape = .scalar(.null) }
    mutating func encode(_ value: Bool) { box.appended().shape = .scalar(.bool(value)) }
    mutating func encode(_ value: String) { box.appended().shape = .scalar(.string(value)) }
    mutating func encode(_ value: Double) throws {
        let number = try JSONValue.number(value, nextPath)
        box.appended().shape = .scalar(number)
    }
    mutating func encode(_ value: Float) throws {
        let number = try JSONValue.number(value, nextPath)
        box.appended().shape = .scalar(number)
    }
    mutating func encode(_ value: Int) { integer(value) }
    mutating func encode(_ value: Int8) { integer(value) }
    mutating func encode(_ value: Int16) { integer(value) }
    mutating func encode(_ value: Int32) { integer(value) }
    mutating func encode(_ value: Int64) { integer(value) }
    mutating func encode(_ value: UInt) { integer(value) }
    mutating func encode(_ value: UInt8) { integer(value) }
    mutating func encode(_ value: UInt16) { integer(value) }
    mutating func encode(_ value: UInt32) { integer(value) }
    mutating func encode(_ value: UInt64) { integer(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try JSONValue.encode(value, into: box.appended(), codingPath: path)
    }

    func integer(_ value: some FixedWidthInteger) { box.appended().shape = .scalar(.number(String(value))) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let child = box.appended()
        child.becomeObject()
        return KeyedEncodingContainer(KeyedBoxContainer<NestedKey>(box: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let child = box.appended()
        child.becomeArray()
        return UnkeyedBoxContainer(box: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return JSONValueEncoder(box: box.appended(), codingPath: path)
    }
}

struct SingleBoxContainer: SingleValueEncodingContainer {
    let box: EncodingBox
    let codingPath: [any CodingKey]

    mutating func encodeNil() { box.shape = .scalar(.null) }
    mutating func encode(_ value: Bool) { box.shape = .scalar(.bool(value)) }
    mutating func encode(_ value: String) { box.shape = .scalar(.string(value)) }
    mutating func encode(_ value: Double) throws { box.shape = .scalar(try JSONValue.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { box.shape = .scalar(try JSONValue.number(value, codingPath)) }
    mutating func encode(_ value: Int) { integer(value) }
    mutating func encode(_ value: Int8) { integer(value) }
    mutating func encode(_ value: Int16) { integer(value) }
    mutating func encode(_ value: Int32) { integer(value) }
    mutating func encode(_ value: Int64) { integer(value) }
    mutating func encode(_ value: UInt) { integer(value) }
    mutating func encode(_ value: UInt8) { integer(value) }
    mutating func encode(_ value: UInt16) { integer(value) }
    mutating func encode(_ value: UInt32) { integer(value) }
    mutating func encode(_ value: UInt64) { integer(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try JSONValue.encode(value, into: box, codingPath: codingPath)
    }

    func integer(_ value: some FixedWidthInteger) { box.shape = .scalar(.number(String(value))) }
}
