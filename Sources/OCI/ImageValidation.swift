// image-spec 1.1 constraints beyond JSON types: digests, sizes, schema versions.

/// Checks `algorithm:encoded` (descriptor.md's grammar) and, for sha256 and sha512, the
/// length and lowercase hex the spec requires.
public func validateDigest(_ digest: String, at path: FieldPath) throws(FieldViolation) {
    guard digest.wholeMatch(of: /[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+/) != nil else {
        throw FieldViolation(path, "\"\(digest)\" is not a digest (algorithm:hex, e.g. sha256:...)")
    }
    let parts = digest.split(separator: ":", maxSplits: 1)
    let expectedLength: Int? = switch parts[0] {
    case "sha256": 64
    case "sha512": 128
    default: nil
    }
    if let expectedLength {
        let encoded = parts[1]
        guard encoded.count == expectedLength, encoded.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            throw FieldViolation(path, "\"\(digest)\": a \(parts[0]) digest is \(expectedLength) lowercase hex digits")
        }
    }
}

extension Descriptor {
    public func checkSchema(at path: FieldPath) throws(FieldViolation) {
        guard mediaType.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/) != nil else {
            throw FieldViolation(path["mediaType"], "\"\(mediaType)\" is not a media type (type/subtype)")
        }
        try validateDigest(digest, at: path["digest"])
        if size < 0 { throw FieldViolation(path["size"], "must not be negative, found \(size)") }
    }
}

func requireSchemaVersion2(_ version: Int) throws(FieldViolation) {
    guard version == 2 else { throw FieldViolation(FieldPath()["schemaVersion"], "must be 2, found \(version)") }
}

extension Index {
    public func checkSchema() throws(FieldViolation) {
        try requireSchemaVersion2(schemaVersion)
        for (index, manifest) in manifests.enumerated() { try manifest.checkSchema(at: FieldPath()["manifests"][index]) }
        try subject?.checkSchema(at: FieldPath()["subject"])
    }
}

extension Manifest {
    public func checkSchema() throws(FieldViolation) {
        try requireSchemaVersion2(schemaVersion)
        try config.checkSchema(at: FieldPath()["config"])
        for (index, layer) in layers.enumerated() { try layer.checkSchema(at: FieldPath()["layers"][index]) }
        try subject?.checkSchema(at: FieldPath()["subject"])
    }
}

extension ImageConfig {
    public func checkSchema() throws(FieldViolation) {
        let at = FieldPath()["rootfs"]
        guard rootfs.type == "layers" else { throw FieldViolation(at["type"], "must be \"layers\", found \"\(rootfs.type)\"") }
        for (index, diffID) in rootfs.diffIDs.enumerated() { try validateDigest(diffID, at: at["diff_ids"][index]) }
    }
}
