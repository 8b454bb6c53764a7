import Foundation
import Testing

/// Many runxl processes at once on the fake backend, as podman, conmon and containerd start
/// them: distinct ids going through their whole lifecycle while others fight over one id, and
/// readers listing all the while. Afterwards: every read parsed, the contested id was held by
/// one creator at a time, nothing is left (record, domain, temp file, supervisor).
@Suite struct RaceTests {
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var failures: [String] = []
        private(set) var holds: [(Date, Date)] = []
        private(set) var contestedRefusals = 0
        private(set) var reads = 0
        func fail(_ text: String) { lock.withLock { failures.append(text) } }
        func hold(_ from: Date, _ to: Date) { lock.withLock { holds.append((from, to)) } }
        func refused() { lock.withLock { contestedRefusals += 1 } }
        func read() { lock.withLock { reads += 1 } }
    }

    /// Runs `body(i)` for i in 0..<count, each on its own thread, and waits for all.
    private func parallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.start()
        }
        group.wait()
    }

    @Test func parallelLifecyclesOnDistinctAndSameIds() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("race")
        let log = Log()
        let distinct = 24, contested = 8, rounds = 3
        let done = NSCondition()
        nonisolated(unsafe) var finished = false

        // Readers: every list and state answer must parse, whatever moment it catches.
        let reader = Thread {
            while !done.withLock({ finished }) {
                guard let list = try? world.run(["list", "--format", "json"]) else { continue }
                // `null` (no container, as runc prints it) is a top-level fragment.
                let parsed = try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8), options: .fragmentsAllowed)
                if list.status != 0 || parsed == nil {
                    log.fail("list: status \(list.status) \(list.stdout) \(list.stderr)")
                }
                if let state = try? world.run(["state", "contested"]), state.status == 0,
                    (try? JSONSerialization.jsonObject(with: Data(state.stdout.utf8))) == nil {
                    log.fail("state contested: unparsable \(state.stdout)")
                }
                log.read()
            }
        }
        reader.start()

        parallel(distinct + contested) { index in
            do {
                if index < distinct {
                    let id = "distinct-\(index)"
                    for step in [["create", "--bundle", bundle, id], ["start", id], ["kill", id, "KILL"], ["delete", id]] {
                        let result = try world.run(step)
                        if result.status != 0 { log.fail("\(step): \(result.stderr)") }
                    }
                } else {
                    for _ in 0..<rounds {
                        let created = try world.run(["create", "--bundle", bundle, "contested"])
                        guard created.status == 0 else {
                            if created.stderr.contains("already exists") { log.refused() } else { log.fail("contested create: \(created.stderr)") }
                            continue
                        }
                        let from = Date()
                        _ = try world.run(["start", "contested"])
                        let to = Date()
                        let deleted = try world.run(["delete", "--force", "contested"])
                        if deleted.status != 0 { log.fail("contested delete: \(deleted.stderr)") }
                        log.hold(from, to)
                    }
                }
            } catch {
                log.fail("\(error)")
            }
        }
        done.withLock { finished = true }
        while reader.isExecuting { usleep(10_000) }

        #expect(log.failures.isEmpty, "\(log.failures)")
        #expect(log.reads > 0)
        #expect(!log.holds.isEmpty, "some contested create must win")
        #expect(log.holds.count + log.contestedRefusals == contested * rounds)
        // One holder at a time: the spans from a won create to its delete never overlap.
        let spans = log.holds.sorted { $0.0 < $1.0 }
        for (earlier, later) in zip(spans, spans.dropFirst()) {
            #expect(earlier.1 <= later.0, "two creators held 'contested' at once")
        }
        #expect(world.filesUnderRoot().isEmpty, "\(world.filesUnderRoot())")
        #expect(!world.fakeDomainsRemain())
    }
}
