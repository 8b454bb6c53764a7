public import Hypervisor
public import RunxlBase

/// Renders a `DomainSpec` as an xl.cfg(5) file that `xl create` accepts: for users who want to
/// boot a converted guest by hand, and for comparing what runxl asks libxl for with xl.
///
/// Every string goes through `quote`, which escapes what libxlu's parser would otherwise read
/// as the end of the string or an escape; the device mini-languages (disk, vif) are built only
/// from values checked to contain none of their separators.
public enum XlConfig {
    public static func render(_ spec: DomainSpec, comment: String? = nil) throws(RunxlError) -> String {
        var lines: [String] = []
        if let comment {
            for line in comment.split(separator: "\n", omittingEmptySubsequences: false) {
                lines.append("# " + String(line.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init)))
            }
        }
        guard !spec.name.isEmpty else { throw RunxlError(.invalidDomainConfig, "the domain name is empty") }
        guard spec.memoryMiB > 0, spec.vcpus > 0 else {
            throw RunxlError(.invalidDomainConfig, "memory (\(spec.memoryMiB) MiB) and vcpus (\(spec.vcpus)) must be positive")
        }
        lines.append("name = \(quote(spec.name))")
        lines.append("type = \(quote(spec.type.rawValue))")
        lines.append("kernel = \(quote(spec.kernel))")
        if let ramdisk = spec.ramdisk { lines.append("ramdisk = \(quote(ramdisk))") }
        if !spec.cmdline.isEmpty { lines.append("extra = \(quote(spec.cmdline))") }
        lines.append("memory = \(spec.memoryMiB)")
        lines.append("vcpus = \(spec.vcpus)")
        if let maxMemory = spec.maxMemoryMiB, maxMemory != spec.memoryMiB { lines.append("maxmem = \(maxMemory)") }
        if let maxVcpus = spec.maxVcpus, maxVcpus != spec.vcpus { lines.append("maxvcpus = \(maxVcpus)") }
        if !spec.disks.isEmpty {
            var disks: [String] = []
            for (index, disk) in spec.disks.enumerated() {
                try requireToken(disk.virtualDevice, field: "disks[\(index)].virtualDevice")
                guard !disk.path.isEmpty else { throw RunxlError(.invalidDomainConfig, "disks[\(index)].path is empty") }
                // `target=` must come last: everything after it, commas included, is the path.
                let text = "format=\(disk.format.rawValue), vdev=\(disk.virtualDevice), "
                    + "access=\(disk.readOnly ? "ro" : "rw"), target=\(disk.path)"
                disks.append(quote(text))
            }
            lines.append("disk = [ \(disks.joined(separator: ", ")) ]")
        }
        if !spec.vifs.isEmpty {
            var vifs: [String] = []
            for (index, vif) in spec.vifs.enumerated() {
                var parts: [String] = []
                if let mac = vif.mac {
                    guard isMAC(mac) else {
                        throw RunxlError(.invalidDomainConfig, "vifs[\(index)].mac '\(mac)' is not xx:xx:xx:xx:xx:xx")
                    }
                    parts.append("mac=\(mac)")
                }
                if let bridge = vif.bridge {
                    try requireToken(bridge, field: "vifs[\(index)].bridge")
                    parts.append("bridge=\(bridge)")
                }
                if let name = vif.backendName {
                    try requireToken(name, field: "vifs[\(index)].backendName")
                    parts.append("vifname=\(name)")
                }
                vifs.append(quote(parts.joined(separator: ",")))
            }
            lines.append("vif = [ \(vifs.joined(separator: ", ")) ]")
        }
        if !spec.shares.isEmpty {
            var shares: [String] = []
            for (index, share) in spec.shares.enumerated() {
                try requireToken(share.tag, field: "shares[\(index)].tag")
                // xl splits a p9 entry at every comma, the path's included.
                guard share.path.hasPrefix("/"), !share.path.contains(",") else {
                    throw RunxlError(.invalidDomainConfig, "shares[\(index)].path '\(share.path)' must be absolute and free of commas")
                }
                shares.append(quote("tag=\(share.tag),security_model=\(ShareSpec.securityModel),path=\(share.path)"))
            }
            lines.append("p9 = [ \(shares.joined(separator: ", ")) ]")
        }
        lines.append("on_poweroff = \(quote(spec.onPoweroff.rawValue))")
        lines.append("on_reboot = \(quote(spec.onReboot.rawValue))")
        lines.append("on_crash = \(quote(spec.onCrash.rawValue))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A double-quoted xl.cfg string: `"` and `\` escaped, and every byte outside printable
    /// ASCII written as `\xHH`, which libxlu decodes back to the same byte.
    public static func quote(_ text: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out += [UInt8(ascii: "\\"), byte]
            case 0x20..<0x7F:
                out.append(byte)
            default:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Device names and bridge names: letters, digits, `_`, `.`, `-` only (no `,` or `=`,
    /// which would start another key of the device spec).
    private static func requireToken(_ text: String, field: String) throws(RunxlError) {
        guard !text.isEmpty, text.utf8.count <= 64,
            text.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            })
        else {
            throw RunxlError(.invalidDomainConfig, "\(field) '\(text)' may contain only letters, digits, '_', '.' and '-'")
        }
    }

    private static func isMAC(_ text: String) -> Bool {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        return groups.count == 6 && groups.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }
}
