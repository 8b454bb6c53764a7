import Foundation
import RunxlBase
import Testing

@Suite struct ErrorCatalogTests {
    /// docs/errors.md is the user's reference: every code in the source must be in it, by number and name.
    @Test func docsListEveryCode() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/errors.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for (name, code) in RunxlError.Code.catalog {
            #expect(text.contains("| \(code.rawValue) | \(name) |"), "docs/errors.md lacks \(code.rawValue) \(name)")
        }
        #expect(Set(RunxlError.Code.catalog.map(\.code.rawValue)).count == RunxlError.Code.catalog.count)
    }
}
