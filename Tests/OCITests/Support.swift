import Foundation
import Testing

/// Specs/runtime-spec in this checkout, found from this file so tests need no bundle resources.
let runtimeSpecDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Specs/runtime-spec")

func fixture(_ relativePath: String) throws -> Data {
    try Data(contentsOf: runtimeSpecDirectory.appendingPathComponent(relativePath))
}

/// The `.json` files in a fixture directory, sorted.
func fixtureNames(in relativeDirectory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: runtimeSpecDirectory.appendingPathComponent(relativeDirectory).path)
        .filter { $0.hasSuffix(".json") }.sorted()
}

/// The first place two JSONSerialization trees differ, or nil when they are equal.
func firstDifference(_ expected: Any, _ actual: Any, path: String = "") -> String? {
    switch (expected, actual) {
    case (let expected as [String: Any], let actual as [String: Any]):
        for key in Set(expected.keys).union(actual.keys).sorted() {
            guard let left = expected[key] else { return "\(path).\(key): added" }
            guard let right = actual[key] else { return "\(path).\(key): lost" }
            if let difference = firstDifference(left, right, path: "\(path).\(key)") { return difference }
        }
        return nil
    case (let expected as [Any], let actual as [Any]):
        guard expected.count == actual.count else { return "\(path): \(expected.count) elements became \(actual.count)" }
        for (index, (left, right)) in zip(expected, actual).enumerated() {
            if let difference = firstDifference(left, right, path: "\(path)[\(index)]") { return difference }
        }
        return nil
    default:
        // NSNumber equality would call true equal to 1: compare the boolean-ness as well.
        let leftIsBool = (expected as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
        let rightIsBool = (actual as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
        guard leftIsBool == rightIsBool, (expected as? NSObject)?.isEqual(actual) == true else {
            return "\(path): \(expected) became \(actual)"
        }
        return nil
    }
}

func parseJSON(_ data: Data) throws -> Any {
    try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
}

/// Validates `document` against a schema file with Debian's python3-jsonschema, resolving the
/// schema's relative `$ref`s ("defs.json#/...") against the schema's own directory.
/// Returns the validator's complaints, empty when valid.
func schemaViolations(of document: Data, schema: String) throws -> [String] {
    let script = """
        import json, pathlib, sys
        import jsonschema
        schema_path = pathlib.Path(sys.argv[1]).resolve()
        schema = json.loads(schema_path.read_text())
        resolver = jsonschema.RefResolver(base_uri=schema_path.as_uri(), referrer=schema)
        validator = jsonschema.Draft4Validator(schema, resolver=resolver)
        errors = sorted(validator.iter_errors(json.load(sys.stdin)), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            print("/".join(map(str, error.absolute_path)) + ": " + error.message)
        sys.exit(1 if errors else 0)
        """
    let python = Foundation.Process()
    python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    python.arguments = ["-c", script, runtimeSpecDirectory.appendingPathComponent(schema).path]
    let input = Pipe()
    let output = Pipe()
    python.standardInput = input
    python.standardOutput = output
    python.standardError = output
    try python.run()
    input.fileHandleForWriting.write(document)
    try input.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    python.waitUntilExit()
    if text.contains("No module named 'jsonschema'") {
        Issue.record("python3-jsonschema is missing: run Scripts/bootstrap")
    }
    if python.terminationStatus == 0 { return [] }
    let lines = text.split(separator: "\n").map(String.init)
    return lines.isEmpty ? ["validator exited with \(python.terminationStatus)"] : lines
}
