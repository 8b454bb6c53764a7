import Glibc

@_silgen_name("init_module") func c_init_module(_ image: UnsafeRawPointer?, _ length: UInt, _ parameters: UnsafePointer<CChar>) -> Int32

/// Loads the kernel modules the host put into the initramfs (`/.runxl/modules`, listed in
/// `order` with dependencies first), before anything needs their devices: the guest kernel is
/// the distribution's, whose Xen front-end drivers are modules.
enum KernelModuleLoader {
    static let directory = "/.runxl/modules"
    /// A module file is at most a few MiB; a bound keeps a broken initramfs from exhausting RAM.
    static let maxModuleBytes = 64 << 20

    static func loadAll() throws(InitFailure) {
        guard fileMode(directory + "/order") != nil else { return }
        let order = String(decoding: try readWholeFile(directory + "/order", limit: 1 << 20), as: UTF8.self)
        for name in order.split(separator: "\n").map(String.init) where !name.isEmpty {
            guard !name.contains("/") else { throw InitFailure("\(directory)/order names '\(name)', which is not a file name") }
            let image = try readWholeFile(directory + "/" + name, limit: maxModuleBytes)
            let result = image.withUnsafeBytes { c_init_module($0.baseAddress, UInt($0.count), "") }
            // Built in or loaded already is as good as loaded now.
            if result != 0 && errno != EEXIST {
                let code = errno
                throw InitFailure("cannot load kernel module \(name): \(errnoText(code))")
            }
        }
    }
}
