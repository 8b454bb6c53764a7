import Foundation
import Testing

/// Every committed seed and every crash input Scripts/fuzz found (Tests/Fuzz/corpus and
/// Tests/Fuzz/crashes) goes through a fuzz target's body again: a crash fails the whole test run,
/// a broken invariant fails the case naming the file; decoding errors are expected. A crash
/// input named `known-*` is a finding not fixed yet: it is expected to break an invariant, and
/// the test fails once it no longer does (rename it then). One loop for every module's harness.
public enum FuzzReplay {
    public static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz").path

    public static func replay(target: String, body: ([UInt8]) -> [String]) throws {
        var replayed = 0
        for kind in ["corpus", "crashes"] {
            let directory = "\(fuzzDirectory)/\(kind)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let input = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)")))
                if name.hasPrefix("known-") {
                    withKnownIssue("\(kind)/\(target)/\(name)") {
                        let violations = body(input)
                        #expect(violations.isEmpty, "\(kind)/\(target)/\(name): \(violations)")
                    }
                } else {
                    let violations = body(input)
                    #expect(violations.isEmpty, "\(kind)/\(target)/\(name): \(violations)")
                }
                replayed += 1
            }
        }
        // The seeds are committed: an empty corpus means the files went missing.
        #expect(replayed > 0, "no corpus for fuzz target \(target) under \(fuzzDirectory)")
    }
}
