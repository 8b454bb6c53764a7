import Foundation
import Hypervisor
import RunxlBase
import Testing

@testable import Runtime

/// The host side of share mode without Xen: the bind mounts must reach what the body forks (as
/// libxl forks the 9pfs backend) and nothing else; the calling thread must be back in the host's
/// namespace afterwards, where the mount point is an ordinary directory. Needs root.
@Suite struct ShareMountsTests {
    static let isRoot = getuid() == 0

    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "runxl-share-mounts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/source", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/target", withIntermediateDirectories: true)
        try "from-source\n".write(toFile: path + "/source/marker", atomically: true, encoding: .utf8)
        return path
    }

    @Test(.enabled(if: isRoot)) func mountsReachForkedChildrenOnlyReadOnlyAndNodev() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let target = base + "/target"
        let report = base + "/report"
        let script = "cat \(target)/marker >\(report); (touch \(target)/new 2>/dev/null && echo writable || echo read-only) >>\(report); "
            + "grep \" \(target) \" /proc/self/mountinfo | grep -c nodev >>\(report); echo end >>\(report); sleep 60"
        let child = try ShareMounts.withMounts([HostMount(source: base + "/source", target: target, readOnly: true, recursive: false)]) {
            () throws(RunxlError) -> Int32 in
            // As libxenstore starts its watch thread during libxl's create: a thread that shares
            // this one's file-system context must not keep it in the private namespace.
            try startDetachedThread { sleep(5) }
            return try Processes.spawn("/bin/sh", ["-c", script])
        }
        defer {
            kill(child, SIGKILL)
            _ = Processes.waitForExit(child)
        }
        for _ in 0..<200 where !((try? String(contentsOfFile: report, encoding: .utf8)) ?? "").contains("end") {
            usleep(20_000)
        }
        #expect((try? String(contentsOfFile: report, encoding: .utf8)) == "from-source\nread-only\n1\nend\n")
        // This thread is back in the host's namespace: no mount, an empty directory that can go.
        #expect(!FileManager.default.fileExists(atPath: target + "/marker"))
        #expect(!(try String(contentsOfFile: "/proc/thread-self/mountinfo", encoding: .utf8)).contains(" \(target) "))
        #expect(rmdir(target) == 0)
    }

    @Test(.enabled(if: isRoot)) func aRefusedBindFailsAndLeavesTheThreadInTheHostNamespace() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let before = try String(contentsOfFile: "/proc/thread-self/mountinfo", encoding: .utf8)
        var ran = false
        #expect(throws: RunxlError.self) {
            try ShareMounts.withMounts([HostMount(source: base + "/missing", target: base + "/target", readOnly: false, recursive: true)]) {
                () throws(RunxlError) in ran = true
            }
        }
        #expect(!ran)
        do throws(RunxlError) {
            try ShareMounts.withMounts([HostMount(source: base + "/missing", target: base + "/target", readOnly: false, recursive: true)]) {}
        } catch {
            #expect(error.code == .sharesUnavailable)
            #expect(error.message.contains(base + "/missing"))
        }
        #expect(try String(contentsOfFile: "/proc/thread-self/mountinfo", encoding: .utf8) == before)
    }

    @Test func withoutMountsTheBodyRunsAsIs() throws {
        #expect(try ShareMounts.withMounts([]) { () throws(RunxlError) -> Int in 42 } == 42)
    }
}

/// What a failed guest's explanation quotes from its console.
@Suite struct ConsoleTailTests {
    @Test func keepsTheLastBytesAsPrintableWholeLines() {
        let tail = ConsoleTail()
        for index in 0..<500 { tail.append(Array("kernel line \(index)\n".utf8)) }
        tail.append([0x1B, 0x5B, 0x41] + Array("panic: no init\r\n".utf8))
        let text = tail.text
        #expect(text.hasSuffix("?[Apanic: no init"))
        #expect(text.utf8.count <= ConsoleTail.limit)
        // The first kept line is whole: the cut one is dropped.
        #expect(text.split(separator: "\n").first.map { $0.hasPrefix("kernel line ") } == true)
        #expect(!text.contains("kernel line 0\n"))
    }

    @Test func isEmptyForAQuietGuest() {
        #expect(ConsoleTail().text.isEmpty)
    }
}
