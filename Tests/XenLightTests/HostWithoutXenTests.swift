import Foundation
import RunxlBase
import Synchronization
import Testing

@testable import XenLight

/// Runs where no Xen is: the development and CI machines.
@Suite struct HostWithoutXenTests {
    static let isDom0 =
        (try? String(contentsOfFile: "/proc/xen/capabilities", encoding: .utf8))?.contains("control_d") ?? false

    @Test(.enabled(if: !isDom0)) func openingLibxlOnAHostWithoutXenSaysSo() {
        let lines = Mutex<[String]>([])
        do {
            _ = try XenLightHypervisor(logLevel: .debug) { line in lines.withLock { $0.append(line) } }
            Issue.record("libxl opened on a host that is not a Xen dom0")
        } catch {
            #expect(error.code == .notXenHost)
            #expect(error.message.contains("not a Xen dom0"))
            #expect(error.message.contains("Scripts/xenlab"))
            let cause = error.cause as? LibxlError
            #expect(cause?.function == "libxl_ctx_alloc")
            #expect(cause?.number == -3)
        }
        // libxl's own explanation reached the log closure.
        let all = lines.withLock { $0 }.joined(separator: "\n")
        #expect(all.contains("privileged command interface"), "log was: \(all)")
    }
}
