import RunxlBase
import Testing

@testable import XenLight

@Suite struct LibxlErrorTableTests {
    @Test func everyErrorLibxlKnowsIsInTheTableUnderItsName() {
        var known = 0
        for number in -200 ... -1 {
            guard let name = LibxlErrorTable.libraryName(of: number) else { continue }
            known += 1
            #expect(LibxlErrorTable.row(for: number)?.name == name, "libxl error \(number) is \(name)")
        }
        #expect(known == LibxlErrorTable.rows.count)
    }

    @Test func everyRowMatchesTheLinkedLibxl() {
        for row in LibxlErrorTable.rows {
            #expect(LibxlErrorTable.libraryName(of: row.number) == row.name)
        }
    }

    @Test func theCodesThatMatterMost() {
        #expect(LibxlErrorTable.code(for: -21) == .domainNotFound)
        #expect(LibxlErrorTable.code(for: -6) == .invalidDomainConfig)
        #expect(LibxlErrorTable.code(for: -5) == .outOfMemory)
        #expect(LibxlErrorTable.code(for: -3) == .hypervisorFailed)
        #expect(LibxlErrorTable.code(for: -999) == .hypervisorFailed)
    }

    @Test func aCauseNamesTheFunctionTheErrorAndWhatLibxlSaid() {
        let cause = LibxlError(function: "libxl_domain_create_new", number: -3, log: ["no loader found"])
        #expect(cause.name == "ERROR_FAIL")
        #expect(cause.description == "libxl_domain_create_new failed with libxl ERROR_FAIL (-3); libxl said: no loader found")
        #expect(LibxlError(function: "f", number: -77).name == "ERROR_UNKNOWN(-77)")
    }

    @Test func genericFailuresAreRefinedFromLibxlsLog() {
        let memory = [LibxlLog.Record(level: .error, errno: 12, text: "xc_dom_boot_mem_init: can't allocate")]
        #expect(XenLightHypervisor.refinedCode(number: -3, records: memory) == .outOfMemory)
        let kernel = [LibxlLog.Record(level: .error, errno: nil, text: "xc_dom_find_loader: no loader found")]
        #expect(XenLightHypervisor.refinedCode(number: -3, records: kernel) == .invalidKernel)
        #expect(XenLightHypervisor.refinedCode(number: -3, records: []) == .hypervisorFailed)
        // A specific number is never overridden by the log.
        #expect(XenLightHypervisor.refinedCode(number: -21, records: memory) == .domainNotFound)
    }

    @Test func theDocumentEmbedsTheTable() throws {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/libxl-errors.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        #expect(text.contains(LibxlErrorTable.markdown), "regenerate the table in docs/libxl-errors.md:\n\(LibxlErrorTable.markdown)")
    }
}

import Foundation
