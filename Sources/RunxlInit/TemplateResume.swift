import Glibc
import GuestProtocol
import RunxlBase

/// Init's side of a VM template (`GuestTemplate`): the pause point a template guest is saved at,
/// and what a restored copy does before it goes on as any share-mode guest.
enum TemplateResume {
    /// How long a restored copy waits for its shares' 9pfs channels to connect.
    static let shareWaitSeconds = 20.0

    /// Whether this guest is a template, from the kernel's command line.
    static var isTemplate: Bool {
        guard let bytes = try? readWholeFile("/proc/cmdline", limit: 4096) else { return false }
        return GuestTemplate.isTemplate(commandLine: String(decoding: bytes, as: UTF8.self))
    }

    /// Whether this guest is a warm VM of the host's pool (`GuestTemplate.warmFlag`).
    static var isWarm: Bool {
        guard let bytes = try? readWholeFile("/proc/cmdline", limit: 4096) else { return false }
        return GuestTemplate.isWarm(commandLine: String(decoding: bytes, as: UTF8.self))
    }

    /// A warm VM's pause point: reports ready and returns once the host handed the guest to a
    /// container. Every module but 9pfs's Xen transport is loaded before: the 9pfs front ends
    /// must not connect until the host has bound the container's rootfs and control directory
    /// over the shares' directories, because QEMU's back end opens a share's root when its front
    /// end connects and never again; the transport's probe is what connects them.
    static func holdUntilAdopted(host: XenbusChannel, console: Console) throws(InitFailure) {
        GuestModules.loadAll(console: console, except: [GuestShares.transportModule])
        try host.report(.templateReady)
        // Booted on its own, a warm VM has its own RNG state; the host's seed adds to it.
        seedRandomness(try host.waitForResume(), console: console)
    }

    /// Reports the template ready and returns once the host restored it for a container: the
    /// host saves the guest while init waits here, so everything before (the kernel's boot, the
    /// modules) is done once per template, not once per container.
    static func holdUntilRestored(host: XenbusChannel, console: Console) throws(InitFailure) {
        GuestModules.loadAll(console: console)
        try host.report(.templateReady)
        let seed = try host.waitForResume()
        seedRandomness(seed, console: console)
        try host.announceDevices(classes: ["9pfs", "vif"])
        try host.waitForSharesConnected(timeoutSeconds: shareWaitSeconds)
    }

    /// Every copy restored from one saved image starts with the same kernel RNG state; without
    /// fresh input two containers could draw the same "random" keys. The host's seed is credited
    /// and the CRNG reseeded from it at once, before the container's process exists.
    private static func seedRandomness(_ seed: [UInt8], console: Console) {
        let fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            console.diagnostic("runxl-init: cannot open /dev/urandom to seed it: \(errnoText(errno))")
            return
        }
        defer { close(fd) }
        // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }, in bits and bytes.
        var request: [UInt8] = []
        for field in [Int32(seed.count * 8), Int32(seed.count)] {
            withUnsafeBytes(of: field.littleEndian) { request.append(contentsOf: $0) }
        }
        request += seed
        let added = request.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return ioctl(fd, Self.addEntropy, base)
        }
        if added != 0 {
            console.diagnostic("runxl-init: cannot add the host's seed to the guest's RNG: \(errnoText(errno))")
            return
        }
        if ioctl(fd, Self.reseedCRNG) != 0 {
            console.diagnostic("runxl-init: cannot reseed the guest's RNG: \(errnoText(errno))")
        }
    }

    /// RNDADDENTROPY, `_IOW('R', 0x03, int[2])`.
    private static let addEntropy: UInt = 0x4008_5203
    /// RNDRESEEDCRNG, `_IO('R', 0x07)`.
    private static let reseedCRNG: UInt = 0x5207
}
