// Real libxl against real Xen: runs inside the nested lab's dom0, skipped anywhere else.
//   swift build --build-tests --scratch-path .build-xl
//   Scripts/xenlab --timeout 900 -- .build-xl/debug/runxlPackageTests.xctest \
//       --testing-library swift-testing --filter XenLightLab
import Foundation
import Hypervisor
import RunxlBase
import Synchronization
import Testing
@testable import XenLight

enum LabEnvironment {
    /// True in a Xen control domain, where libxl can create guests.
    static let isXenDom0: Bool =
        (try? String(contentsOfFile: "/proc/xen/capabilities", encoding: .utf8))?.contains("control_d") ?? false

    /// The lab's guest kernel (a vmlinux ELF that boots as PV and PVH), set by Scripts/xenlab.
    static var kernel: String? { ProcessInfo.processInfo.environment["RUNXL_LAB_KERNEL"] }
}

/// The test guest: a busybox initramfs whose /init prints `runxl-lab: <marker> up`, then powers
/// off, or with `mode=wait` on the command line stays up until shut down or destroyed. Unknown
/// `name=value` kernel parameters reach /init as environment variables.
enum LabGuest {
    static let initScript = """
        #!/bin/busybox sh
        /bin/busybox mount -t proc proc /proc 2>/dev/null
        echo "runxl-lab: $marker up"
        if [ "$mode" = wait ]; then
          while :; do /bin/busybox sleep 3600; done
        fi
        /bin/busybox poweroff -f

        """
    /// What Linux runs for a xenstore `control/shutdown` = poweroff request (its `poweroff_cmd`).
    static let poweroffScript = """
        #!/bin/busybox sh
        echo "runxl-lab: poweroff requested"
        /bin/busybox poweroff -f

        """

    /// Built once per process, uncompressed (gunzip under TCG costs more than the bytes).
    static let initramfs: Result<String, any Error> = Result { try build() }

    private static func build() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("runxl-lab-guest-\(getpid())")
        let tree = root.appendingPathComponent("tree")
        for directory in ["bin", "sbin", "proc", "sys", "dev"] {
            try FileManager.default.createDirectory(
                at: tree.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: tree.appendingPathComponent("bin/busybox").path)
        try initScript.write(to: tree.appendingPathComponent("init"), atomically: true, encoding: .utf8)
        try poweroffScript.write(to: tree.appendingPathComponent("sbin/poweroff"), atomically: true, encoding: .utf8)
        for script in ["init", "sbin/poweroff"] {
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: tree.appendingPathComponent(script).path)
        }
        let output = root.appendingPathComponent("guest.cpio").path
        try spawnAndWait(["/bin/sh", "-c", "cd \"$1\" && find . | cpio -o -H newc --quiet > \"$2\"", "sh", tree.path, output])
        return output
    }

    static func spec(
        _ name: String, type: GuestType, marker: String, wait: Bool = false, memoryMiB: Int = 128
    ) throws -> DomainSpec {
        let kernel = try #require(LabEnvironment.kernel, "RUNXL_LAB_KERNEL is not set: run under Scripts/xenlab")
        var cmdline = "console=hvc0 rdinit=/init marker=\(marker)"
        if type == .pvh { cmdline += " pci=off" }
        if wait { cmdline += " mode=wait" }
        return DomainSpec(
            name: name, type: type, kernel: kernel, ramdisk: try initramfs.get(), cmdline: cmdline,
            memoryMiB: memoryMiB, vcpus: 1)
    }

    static func consoleLog(of name: String) -> String {
        (try? String(contentsOfFile: "/var/log/xen/console/guest-\(name).log", encoding: .utf8)) ?? ""
    }

    /// xenconsoled writes the log as the guest's output arrives; give it a moment.
    static func waitForConsole(of name: String, containing text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if consoleLog(of: name).contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return consoleLog(of: name).contains(text)
    }
}

/// One libxl context for the suite, as one runxl process would have.
let labHypervisor: Result<XenLightHypervisor, RunxlError> = Result { () throws(RunxlError) in
    try XenLightHypervisor(logLevel: .warning) { line in print("libxl: \(line)") }
}

/// posix_spawn and waitpid rather than Foundation's Process: in the lab's dom0, Foundation logs
/// "Could not create wakeup socket pair for CFSocket", then its run-loop thread spins on a CPU
/// and `waitUntilExit` sometimes never returns. Bounded, so a stuck command fails the test
/// instead of the whole lab run.
func spawnAndWait(_ arguments: [String]) throws {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/tmp/runxl-lab-spawn.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    // Swift Testing runs tests on threads that block signals; the child inherits the mask, and an
    // xl with SIGCHLD blocked waits forever for the child libxl forks in `xl destroy`.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard spawned == 0 else { throw RunxlError(.spawnFailed, "cannot start \(arguments[0]): errno \(spawned)") }
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(120)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            throw RunxlError(.timeout, "\(arguments.joined(separator: " ")) did not exit in 120 s")
        }
        usleep(10_000)
    }
    guard status == 0 else {
        let log = (try? String(contentsOfFile: "/tmp/runxl-lab-spawn.log", encoding: .utf8)) ?? ""
        throw RunxlError(.spawnFailed, "\(arguments.joined(separator: " ")) exited with status \(status): \(log)")
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func report(_ what: String, _ value: Double) {
    print("xenlight-lab timing: \(what) \(String(format: "%.2f", value)) s")
}

@Suite(.serialized, .enabled(if: LabEnvironment.isXenDom0))
struct XenLightLabTests {
    let hypervisor: XenLightHypervisor
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)

    init() throws {
        hypervisor = try labHypervisor.get()
    }

    @Test(arguments: [GuestType.pv, .pvh])
    func aGuestBootsPrintsAndPowersOff(type: GuestType) throws {
        let name = "xl-lab-\(type.rawValue)-\(suffix)"
        let marker = "boot-\(type.rawValue)-\(suffix)"
        let spec = try LabGuest.spec(name, type: type, marker: marker)

        var domain = DomainID(0)
        report("\(type.rawValue) create paused", try seconds { domain = try hypervisor.createDomain(spec, paused: true) })
        defer { try? hypervisor.destroy(domain) }
        #expect(domain.rawValue != 0)

        let listed = try hypervisor.listDomains().first { $0.id == domain }
        #expect(listed?.name == name)
        #expect(listed?.state == .paused)
        #expect(try hypervisor.domainInfo(domain)?.state == .paused)
        #expect((try hypervisor.domainInfo(domain)?.memoryKiB ?? 0) > 0)
        #expect(try hypervisor.domainID(named: name) == domain)
        #expect(try hypervisor.storePath(domain) == "/local/domain/\(domain)")
        let console = try hypervisor.consolePath(domain)
        #expect(console.hasPrefix("/dev/pts/"), "console \(console)")

        var end = DomainEnd.timedOut
        report("\(type.rawValue) unpause to shutdown", try seconds {
            try hypervisor.unpause(domain)
            end = try hypervisor.waitForEnd(domain, timeoutSeconds: 240)
        })
        #expect(end == .shutdown(.poweroff))
        #expect(try hypervisor.domainInfo(domain)?.state == .shutdown)
        #expect(try hypervisor.domainInfo(domain)?.shutdownReason == .poweroff)
        // A wait on a domain that already shut down answers at once.
        #expect(try hypervisor.waitForEnd(domain, timeoutSeconds: 30) == .shutdown(.poweroff))
        #expect(
            LabGuest.waitForConsole(of: name, containing: "runxl-lab: \(marker) up", seconds: 10),
            "console log: \(LabGuest.consoleLog(of: name))")

        report("\(type.rawValue) destroy", try seconds { try hypervisor.destroy(domain) })
        #expect(try hypervisor.listDomains().contains { $0.id == domain } == false)
        #expect(try hypervisor.domainInfo(domain) == nil)
        #expect(try hypervisor.domainID(named: name) == nil)
        #expect(try hypervisor.waitForEnd(domain, timeoutSeconds: 30) == .gone)
        // Destroying what is gone is not an error.
        try hypervisor.destroy(domain)
    }

    @Test func aRunningGuestPausesResumesAndIsDestroyed() throws {
        let name = "xl-lab-running-\(suffix)"
        let marker = "running-\(suffix)"
        var domain = DomainID(0)
        report("pv create running", try seconds {
            domain = try hypervisor.createDomain(try LabGuest.spec(name, type: .pv, marker: marker, wait: true), paused: false)
        })
        defer { try? hypervisor.destroy(domain) }
        #expect(try hypervisor.domainInfo(domain)?.state == .running)
        #expect(
            LabGuest.waitForConsole(of: name, containing: "runxl-lab: \(marker) up", seconds: 180),
            "console log: \(LabGuest.consoleLog(of: name))")

        try hypervisor.pause(domain)
        #expect(try hypervisor.domainInfo(domain)?.state == .paused)
        try hypervisor.unpause(domain)
        #expect(try hypervisor.domainInfo(domain)?.state == .running)

        var end = DomainEnd.gone
        let waited = try seconds { end = try hypervisor.waitForEnd(domain, timeoutSeconds: 1.5) }
        #expect(end == .timedOut)
        #expect(waited >= 1.4 && waited < 10, "waited \(waited) s")

        // A wait in progress sees the destroy from another thread.
        let ended = Mutex<DomainEnd?>(nil)
        let waiter = Thread { [hypervisor, domain] in
            let result = try? hypervisor.waitForEnd(domain, timeoutSeconds: 120)
            ended.withLock { $0 = result }
        }
        waiter.start()
        Thread.sleep(forTimeInterval: 1)
        report("pv destroy running", try seconds { try hypervisor.destroy(domain) })
        let deadline = Date().addingTimeInterval(60)
        while ended.withLock({ $0 }) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let seen = ended.withLock { $0 }
        // Destroyed without shutting down: a death event alone (or a shutdown first, when Xen
        // marks the dying domain shut down; either ends the wait).
        #expect(seen != nil && seen != .timedOut, "wait ended with \(String(describing: seen))")
        #expect(try hypervisor.domainInfo(domain) == nil)
    }

    @Test func aShutdownRequestPowersTheGuestOff() throws {
        let name = "xl-lab-shutdown-\(suffix)"
        let marker = "shutdown-\(suffix)"
        let domain = try hypervisor.createDomain(
            try LabGuest.spec(name, type: .pv, marker: marker, wait: true), paused: false)
        defer { try? hypervisor.destroy(domain) }
        #expect(
            LabGuest.waitForConsole(of: name, containing: "runxl-lab: \(marker) up", seconds: 180),
            "console log: \(LabGuest.consoleLog(of: name))")
        var end = DomainEnd.timedOut
        report("pv shutdown request to shutdown", try seconds {
            try hypervisor.shutdown(domain)
            end = try hypervisor.waitForEnd(domain, timeoutSeconds: 120)
        })
        #expect(end == .shutdown(.poweroff))
        try hypervisor.destroy(domain)
        #expect(try hypervisor.domainInfo(domain) == nil)
    }

    @Test func xenstoreReadsWritesAndWatches() throws {
        let name = "xl-lab-store-\(suffix)"
        let domain = try hypervisor.createDomain(try LabGuest.spec(name, type: .pv, marker: "store"), paused: true)
        defer { try? hypervisor.destroy(domain) }
        let base = try hypervisor.storePath(domain)
        #expect(try hypervisor.readStore("\(base)/name") == name)

        try hypervisor.writeStore("\(base)/data/runxl-lab", "hello")
        #expect(try hypervisor.readStore("\(base)/data/runxl-lab") == "hello")
        try hypervisor.writeStore("\(base)/data/empty", "")
        #expect(try hypervisor.readStore("\(base)/data/empty") == "")
        #expect(try hypervisor.readStore("\(base)/data/missing") == nil)

        // Present already: no wait.
        var value: String?
        let immediate = try seconds { value = try hypervisor.waitForStoreKey("\(base)/data/runxl-lab", timeoutSeconds: 5) }
        #expect(value == "hello")
        #expect(immediate < 1)

        // Absent until the deadline.
        let missing = try seconds { value = try hypervisor.waitForStoreKey("\(base)/data/never", timeoutSeconds: 0.5) }
        #expect(value == nil)
        #expect(missing >= 0.45 && missing < 5, "waited \(missing) s")

        // Written by another thread while waiting.
        let writer = Thread { [hypervisor] in
            Thread.sleep(forTimeInterval: 0.5)
            try? hypervisor.writeStore("\(base)/data/later", "arrived")
        }
        writer.start()
        let later = try seconds { value = try hypervisor.waitForStoreKey("\(base)/data/later", timeoutSeconds: 30) }
        #expect(value == "arrived")
        report("xenstore watch wake-up after a 0.5 s delayed write", later)

        // The same name twice is refused before libxl is asked.
        #expect {
            _ = try hypervisor.createDomain(try LabGuest.spec(name, type: .pv, marker: "twice"), paused: true)
        } throws: { ($0 as? RunxlError)?.code == .invalidDomainConfig }
    }

    @Test func aFileThatIsNotAKernelFailsAndLeavesNothing() throws {
        let name = "xl-lab-notkernel-\(suffix)"
        var spec = try LabGuest.spec(name, type: .pv, marker: "never")
        spec.kernel = "/etc/hostname"
        let before = try Set(hypervisor.listDomains().map(\.id))
        do {
            _ = try hypervisor.createDomain(spec, paused: true)
            Issue.record("created a domain from /etc/hostname")
        } catch {
            print("xenlight-lab: not-a-kernel error: \(error)")
            #expect(error.code == .invalidKernel)
            #expect(error.message.contains(name))
        }
        #expect(try hypervisor.domainID(named: name) == nil)
        // Earlier tests' domains may still be dying and leave the list meanwhile: only new ids count.
        let added = try hypervisor.listDomains().filter { !before.contains($0.id) }
        #expect(added.isEmpty, "left behind: \(added)")
    }

    @Test func moreMemoryThanXenHasFailsAndLeavesNothing() throws {
        let name = "xl-lab-huge-\(suffix)"
        let spec = try LabGuest.spec(name, type: .pv, marker: "never", memoryMiB: 64 * 1024)
        let before = try Set(hypervisor.listDomains().map(\.id))
        do {
            _ = try hypervisor.createDomain(spec, paused: true)
            Issue.record("created a 64 GiB domain")
        } catch {
            print("xenlight-lab: out-of-memory error: \(error)")
            #expect(error.code == .outOfMemory)
        }
        #expect(try hypervisor.domainID(named: name) == nil)
        // Earlier tests' domains may still be dying and leave the list meanwhile: only new ids count.
        let added = try hypervisor.listDomains().filter { !before.contains($0.id) }
        #expect(added.isEmpty, "left behind: \(added)")
    }

    @Test func operationsOnAMissingDomainSayItIsMissing() throws {
        let missing = DomainID(31_000)
        #expect(try hypervisor.domainInfo(missing) == nil)
        #expect(try hypervisor.waitForEnd(missing, timeoutSeconds: 10) == .gone)
        try hypervisor.destroy(missing)
        #expect { try hypervisor.unpause(missing) } throws: { ($0 as? RunxlError)?.code == .domainNotFound }
        #expect { try hypervisor.pause(missing) } throws: { ($0 as? RunxlError)?.code == .domainNotFound }
        #expect { _ = try hypervisor.consolePath(missing) } throws: { ($0 as? RunxlError)?.code == .domainNotFound }
        #expect { try hypervisor.destroy(DomainID(0)) } throws: { ($0 as? RunxlError)?.code == .unsupported }
        #expect(try hypervisor.listDomains().contains { $0.id == DomainID(0) })
    }

    /// Valgrind cannot run the Swift test runner here (it crashes in libdispatch), so leaks are
    /// checked by the heap: after a warm-up, many rounds of every call must not grow it.
    @Test func repeatedCallsDoNotGrowTheHeap() throws {
        func heapBytes() -> Int { heapBytesInUse() }
        let name = "xl-lab-leak-\(suffix)"
        let domain = try hypervisor.createDomain(try LabGuest.spec(name, type: .pv, marker: "leak"), paused: true)
        defer { try? hypervisor.destroy(domain) }
        let base = try hypervisor.storePath(domain)
        try hypervisor.writeStore("\(base)/data/leak", "value")
        func round() throws {
            _ = try hypervisor.listDomains()
            _ = try hypervisor.domainInfo(domain)
            _ = try hypervisor.domainID(named: name)
            _ = try hypervisor.consolePath(domain)
            _ = try hypervisor.readStore("\(base)/data/leak")
            try hypervisor.writeStore("\(base)/data/leak", "value")
            _ = try hypervisor.waitForStoreKey("\(base)/data/leak", timeoutSeconds: 1)
            _ = try hypervisor.waitForStoreKey("\(base)/data/absent", timeoutSeconds: 0)
            _ = try hypervisor.waitForEnd(domain, timeoutSeconds: 0)
            _ = try? hypervisor.unpause(DomainID(31_000))
        }
        for _ in 0..<30 { try round() }
        let before = heapBytes()
        let rounds = 200
        let elapsed = try seconds { for _ in 0..<rounds { try round() } }
        let growth = heapBytes() - before
        report("\(rounds) rounds of every call", elapsed)
        print("xenlight-lab: heap growth over \(rounds) rounds: \(growth) bytes")
        #expect(growth < 64 * 1024, "heap grew \(growth) bytes over \(rounds) rounds")

        for _ in 0..<3 { _ = try XenLightHypervisor() }
        let beforeContexts = heapBytes()
        for _ in 0..<30 { _ = try XenLightHypervisor() }
        let contextGrowth = heapBytes() - beforeContexts
        print("xenlight-lab: heap growth over 30 contexts opened and closed: \(contextGrowth) bytes")
        #expect(contextGrowth < 64 * 1024)
    }

    /// Not a pass/fail test: the same guest created by `xl create -p` and by this module, in the
    /// same lab run, so the ratio says whether XenLight adds cost (absolute TCG times vary a lot).
    @Test func createTimeComparedWithXl() throws {
        let spec = try LabGuest.spec("xl-lab-cmp-\(suffix)", type: .pv, marker: "cmp")
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("xl-lab-cmp-\(suffix).cfg")
        try """
            name = "xl-lab-xl-\(suffix)"
            type = "pv"
            kernel = "\(spec.kernel)"
            ramdisk = "\(spec.ramdisk ?? "")"
            extra = "\(spec.cmdline)"
            memory = \(spec.memoryMiB)
            vcpus = 1
            on_poweroff = "destroy"
            on_reboot = "destroy"
            on_crash = "destroy"

            """.write(to: config, atomically: true, encoding: .utf8)
        defer {
            if let left = try? hypervisor.domainID(named: "xl-lab-xl-\(suffix)") { try? hypervisor.destroy(left) }
        }
        for round in 1...2 {
            let xlCreate = try seconds { try spawnAndWait(["/usr/sbin/xl", "create", "-q", "-p", "-e", config.path]) }
            let xlDestroy = try seconds { try spawnAndWait(["/usr/sbin/xl", "destroy", "xl-lab-xl-\(suffix)"]) }
            var domain = DomainID(0)
            let ours = try seconds { domain = try hypervisor.createDomain(spec, paused: true) }
            let ourDestroy = try seconds { try hypervisor.destroy(domain) }
            report("round \(round) xl create -p", xlCreate)
            report("round \(round) XenLight create paused", ours)
            report("round \(round) xl destroy", xlDestroy)
            report("round \(round) XenLight destroy", ourDestroy)
        }
    }
}
