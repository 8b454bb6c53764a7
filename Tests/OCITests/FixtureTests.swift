import Foundation
import OCI
import RunxlBase
import Testing

/// The upstream runtime-spec fixtures (Specs/runtime-spec/test, see SOURCE) and runxl's own.
@Suite struct FixtureTests {
    /// Decodes and re-encodes, then compares both as JSON values: any field a type lacks shows up
    /// as "lost".
    func expectRoundTrip<Document: OCIDocument>(_ type: Document.Type, _ path: String) throws {
        let original = try fixture(path)
        let document = try Document.decode(original, documentName: path)
        let reencoded = try document.encoded()
        let difference = firstDifference(try parseJSON(original), try parseJSON(reencoded))
        #expect(difference == nil, "\(path): \(difference ?? "")")
        // A second pass is stable.
        #expect(try Document.decode(reencoded) == document)
    }

    @Test(arguments: try fixtureNames(in: "test/config/good"))
    func goodConfigRoundTrips(name: String) throws {
        try expectRoundTrip(Spec.self, "test/config/good/\(name)")
    }

    @Test(arguments: try fixtureNames(in: "test/features/good"))
    func goodFeaturesRoundTrip(name: String) throws {
        try expectRoundTrip(Features.self, "test/features/good/\(name)")
    }

    @Test(arguments: try fixtureNames(in: "test/state/good"))
    func goodStateRoundTrips(name: String) throws {
        try expectRoundTrip(State.self, "test/state/good/\(name)")
    }

    @Test func everyFieldRoundTrips() throws {
        try expectRoundTrip(Spec.self, "runxl/config-all-fields.json")
        try expectRoundTrip(Features.self, "runxl/features-all-fields.json")
    }

    @Test func ownFixturesAreValidAgainstTheSchema() throws {
        #expect(try schemaViolations(of: fixture("runxl/config-all-fields.json"), schema: "config-schema.json") == [])
        #expect(try schemaViolations(of: fixture("runxl/features-all-fields.json"), schema: "features-schema.json") == [])
    }

    /// Each upstream bad fixture, with the message runxl gives (the field named first).
    static let badDocuments: [(path: String, message: String)] = [
        ("test/config/bad/freebsd-vnet-disable.json",
         #"config.json: freebsd.jail.vnet: "disable" is not one of "new", "inherit""#),
        ("test/config/bad/invalid-json.json",
         "config.json: not valid JSON: line 1, column 2: expected a quoted member name, found ']'"),
        ("test/config/bad/linux-hugepage.json",
         #"config.json: linux.resources.hugepageLimits[0].pageSize: "64kB" does not match ^[1-9][0-9]*[KMG]B$ (for example 2MB)"#),
        ("test/config/bad/linux-netdevice.json",
         "config.json: linux.netDevices.eth0.name: expected a string, found a number"),
        ("test/config/bad/linux-rdma.json",
         "config.json: linux.resources.rdma.mlx5_1.hcaHandles: expected an integer in 0...4294967295, found a string"),
        ("test/features/bad/missing-ociVersionMax.json", "features: ociVersionMax: required field is missing"),
        ("test/state/bad/invalid-json.json",
         "state.json: not valid JSON: line 1, column 2: expected a quoted member name, found ']'"),
    ]

    @Test(arguments: badDocuments.indices)
    func badFixtureIsRejectedNamingItsField(index: Int) throws {
        let (path, message) = Self.badDocuments[index]
        let data = try fixture(path)
        let error: RunxlError? =
            if path.hasPrefix("test/config") {
                #expect(throws: RunxlError.self) { try Spec.decode(data) }
            } else if path.hasPrefix("test/features") {
                #expect(throws: RunxlError.self) { try Features.decode(data) }
            } else {
                #expect(throws: RunxlError.self) { try State.decode(data) }
            }
        #expect(error?.message == message)
        #expect(error?.code == (path.hasPrefix("test/config") ? .invalidConfig : .invalidDocument))
    }

    /// The Python validator agrees with the fixtures' verdicts, so schema tests mean something.
    @Test func validatorAgreesWithUpstreamVerdicts() throws {
        for (directory, schema) in [("config", "config-schema.json"), ("features", "features-schema.json"), ("state", "state-schema.json")] {
            for name in try fixtureNames(in: "test/\(directory)/good") {
                #expect(try schemaViolations(of: fixture("test/\(directory)/good/\(name)"), schema: schema) == [], "\(name)")
            }
            for name in try fixtureNames(in: "test/\(directory)/bad") {
                #expect(try schemaViolations(of: fixture("test/\(directory)/bad/\(name)"), schema: schema) != [], "\(name)")
            }
        }
    }
}
