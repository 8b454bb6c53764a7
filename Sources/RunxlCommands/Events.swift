import Hypervisor
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl events [--stats] [--interval D] ID`: runc's resource report, from Xen's accounting of
/// the container's domain (libxl's dominfo): CPU time of all its vCPUs, and its memory. A VM
/// container has no host cgroup whose counters would mean the guest's use, so the report is
/// the domain's: memory is what the guest was given (its balloon target), not what its
/// processes touch; pids, blkio and the rest stay empty, as runc leaves counters it cannot read.
struct Events: Verb {
    static let spec = VerbSpec(
        name: "events", summary: "report the container's CPU and memory use (runc's stats events)",
        usage: "[--stats] [--interval DURATION] ID",
        flags: [
            FlagSpec("stats", help: "print one stats event and exit"),
            FlagSpec("interval", value: "DURATION", help: "time between stats events (default 5s)"),
        ])
    let global: GlobalOptions
    let id: ContainerID
    let once: Bool
    let intervalMicroseconds: UInt64

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
        once = arguments.isSet("stats")
        let interval = try GoDuration.microseconds(arguments.value("interval") ?? "5s")
        guard interval > 0 else { throw RunxlError(.usage, "events: --interval must be more than zero") }
        intervalMicroseconds = interval
    }

    func run() throws(RunxlError) -> Int32 {
        let engine = try Backend.engine(global)
        if once {
            print(Self.statsEvent(id: id.rawValue, try engine.stats(id)))
            return 0
        }
        // As runc: an event per interval until the container is gone.
        while true {
            let info: DomainInfo
            do {
                info = try engine.stats(id)
            } catch where error.code == .invalidState || error.code == .containerNotFound || error.code == .domainNotFound {
                return 0
            }
            // Straight to fd 1: a reader on a pipe gets each event as it happens, not at exit.
            var line = Array((Self.statsEvent(id: id.rawValue, info) + "\n").utf8)
            guard line.withUnsafeMutableBytes({ write(1, $0.baseAddress, $0.count) }) == line.count else { return 0 }
            var remaining = intervalMicroseconds
            while remaining > 0 {
                let step = min(remaining, 1_000_000)
                usleep(UInt32(step))
                remaining -= step
            }
        }
    }

    /// runc's `{"type":"stats","id":...,"data":{...}}`, members in runc's order, Go's omitempty
    /// applied (a zero count is left out where runc's struct says so).
    static func statsEvent(id: String, _ info: DomainInfo) -> String {
        let limit = info.maxMemoryKiB.map { String($0 * 1024) } ?? "0"
        var usage: [(String, String)] = [("total", String(info.cpuTimeNanoseconds ?? 0))]
        if usage[0].1 == "0" { usage = [] }
        usage += [("kernel", "0"), ("user", "0")]
        let cpu = GoJSON.object([("usage", GoJSON.object(usage, pretty: false, indent: "")), ("throttling", "{}")], pretty: false, indent: "")
        let memoryUsage = GoJSON.object(
            [("limit", limit)] + (info.memoryKiB > 0 ? [("usage", String(info.memoryKiB * 1024))] : []) + [("failcnt", "0")],
            pretty: false, indent: "")
        let zero = GoJSON.object([("limit", "0"), ("failcnt", "0")], pretty: false, indent: "")
        let memory = GoJSON.object(
            [("usage", memoryUsage), ("swap", zero), ("kernel", zero), ("kernelTCP", zero)], pretty: false, indent: "")
        let data = GoJSON.object(
            [
                ("cpu", cpu), ("cpuset", "{}"), ("memory", memory), ("pids", "{}"), ("blkio", "{}"), ("hugetlb", "{}"),
                ("intel_rdt", "{}"), ("network_interfaces", "null"),
            ], pretty: false, indent: "")
        return GoJSON.object([("type", GoJSON.quoted("stats")), ("id", GoJSON.quoted(id)), ("data", data)], pretty: false, indent: "")
    }
}

/// Go's time.ParseDuration, which runc's `--interval` goes through: decimal numbers with units
/// ns, us (µs), ms, s, m, h, one after another ("1m30s", "1.5s").
enum GoDuration {
    static func microseconds(_ text: String) throws(RunxlError) -> UInt64 {
        let units: [(String, Double)] = [("ns", 0.001), ("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { throw RunxlError(.usage, "'\(text)' is not a duration (e.g. 5s, 500ms)") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else {
                throw RunxlError(.usage, "'\(text)' is not a duration (e.g. 5s, 500ms)")
            }
            rest = rest.dropFirst(number.count)
            // The longest unit that matches: "ms" before "m".
            guard let (unit, scale) = units.filter({ rest.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else {
                throw RunxlError(.usage, "'\(text)' has no unit (ns, us, ms, s, m, h)")
            }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        guard total < 1e15 else { throw RunxlError(.usage, "'\(text)' is too long a duration") }
        return UInt64(total)
    }
}
