import Foundation
import Testing

/// Every committed seed and every crash input Scripts/fuzz found (Tests/Fuzz/corpus and
/// Tests/Fuzz/crashes) goes through the fuzz harness again: a crash fails the whole test run,
/// a broken invariant fails the case naming the file; decoding errors are expected. Every file
/// is a plain assertion: the last finding replayed as a known issue (`0.0` re-encoded as `0`)
/// is fixed, and a new one is fixed rather than tolerated.
@Suite struct OCIFuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz").path

    static var targets: [String] { OCIFuzzHarness.targets.keys.sorted() }

    @Test(arguments: targets) func corpusAndCrashesStayHarmless(target: String) throws {
        let body = try #require(OCIFuzzHarness.targets[target])
        var replayed = 0
        for kind in ["corpus", "crashes"] {
            let directory = "\(Self.fuzzDirectory)/\(kind)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let input = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)")))
                let violations = body(input)
                #expect(violations.isEmpty, "\(kind)/\(target)/\(name): \(violations)")
                replayed += 1
            }
        }
        // The seeds are committed: an empty corpus means the files went missing.
        #expect(replayed > 0, "no corpus for fuzz target \(target) under \(Self.fuzzDirectory)")
    }
}
