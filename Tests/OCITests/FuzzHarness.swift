import OCI

/// The OCI fuzz target's body: Scripts/fuzz compiles this file into the libFuzzer binary and
/// FuzzRegressionTests replays the committed corpus and crash inputs through it. Returns the
/// invariants the input broke; a thrown `RunxlError` is the expected answer to bad input.
enum OCIFuzzHarness {
    static let targets: [String: @Sendable ([UInt8]) -> [String]] = [
        "config-json": configJSON
    ]

    /// config.json through runxl's own JSON parser, the strict decoder and the schema checks;
    /// what decodes must encode and decode back to itself.
    static func configJSON(_ input: [UInt8]) -> [String] {
        guard let spec = try? Spec.decode(input) else { return [] }
        do {
            let again = try Spec.decode([UInt8](spec.encoded(pretty: false)))
            return again == spec ? [] : ["config.json does not survive encode and decode"]
        } catch {
            return ["decoded config.json does not decode again after encoding: \(error)"]
        }
    }
}
