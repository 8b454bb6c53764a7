import Foundation

/// Validates JSON against the upstream runtime-spec schemas with Debian's python3-jsonschema
/// (installed by Scripts/bootstrap), resolving the schemas' relative `$ref`s to sibling files.
enum SchemaCheck {
    static var schemaDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs/runtime-spec").path
    }

    /// Returns the validation errors (empty when valid).
    static func validate(json: String, schema: String) throws -> String {
        let script = """
            import json, sys, pathlib, jsonschema
            base = pathlib.Path(sys.argv[1])
            schema = json.loads((base / sys.argv[2]).read_text())
            resolver = jsonschema.RefResolver(base_uri=base.as_uri() + "/", referrer=schema)
            v = jsonschema.Draft4Validator(schema, resolver=resolver)
            errors = [e.message for e in v.iter_errors(json.load(sys.stdin))]
            print("\\n".join(errors))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, schemaDirectory, schema]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(json.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 { return "validator failed: \(failure)" }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
