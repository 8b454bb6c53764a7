import Glibc
import GuestProtocol

/// Linux capabilities by runtime-spec name, applied the way runc does: drop from the bounding
/// set, keep permitted capabilities across setuid, then set the three sets and the ambient set.
enum CapabilitySets {
    static let numbers: [String: UInt32] = [
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
        "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
        "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
        "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
        "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
        "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
        "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
        "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
        "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
    ]

    /// The known capabilities among `names`; unknown ones are reported and skipped, as runc does.
    static func resolve(_ names: [String], warn: (String) -> Void) -> [UInt32] {
        names.compactMap { name in
            guard let number = numbers[name] else {
                warn("ignoring unknown capability \(name)")
                return nil
            }
            return number
        }
    }

    static func lastCapability() -> UInt32 {
        if let bytes = try? readWholeFile("/proc/sys/kernel/cap_last_cap", limit: 64),
            let value = UInt32(String(decoding: bytes, as: UTF8.self).filter { $0 != "\n" })
        {
            return value
        }
        return 40
    }

    static func dropBounding(keeping bounding: [UInt32]) throws(InitFailure) {
        let keep = Set(bounding)
        for capability in 0...lastCapability() where !keep.contains(capability) {
            if c_prctl(Linux.prCapBSetDrop, UInt(capability), 0, 0, 0) == -1 && errno != EINVAL {
                let code = errno
                throw InitFailure("drop capability \(capability) from the bounding set: \(errnoText(code))")
            }
        }
    }

    static func apply(effective: [UInt32], permitted: [UInt32], inheritable: [UInt32], ambient: [UInt32]) throws(InitFailure) {
        func words(_ set: [UInt32]) -> (UInt32, UInt32) {
            var low: UInt32 = 0
            var high: UInt32 = 0
            for capability in set {
                if capability < 32 { low |= 1 << capability } else if capability < 64 { high |= 1 << (capability - 32) }
            }
            return (low, high)
        }
        let e = words(effective)
        let p = words(permitted)
        let i = words(inheritable)
        var header: [UInt32] = [Linux.capabilityVersion3, 0]
        // Two __user_cap_data_struct {effective, permitted, inheritable}: low words, then high.
        var data: [UInt32] = [e.0, p.0, i.0, e.1, p.1, i.1]
        let result = header.withUnsafeMutableBytes { headerBytes in
            data.withUnsafeMutableBytes { dataBytes in
                c_capset(headerBytes.baseAddress!, dataBytes.baseAddress!)
            }
        }
        try check(result, "capset")
        _ = c_prctl(Linux.prCapAmbient, Linux.prCapAmbientClearAll, 0, 0, 0)
        // The kernel raises an ambient capability only when it is both permitted and inheritable.
        // runc's default spec lists ambient capabilities with an empty inheritable set (since
        // CVE-2022-29162), and runc skips those; so does runxl-init, as a container under runc
        // would start the same way.
        let raisable = Set(permitted).intersection(inheritable)
        for capability in ambient where raisable.contains(capability) {
            if c_prctl(Linux.prCapAmbient, Linux.prCapAmbientRaise, UInt(capability), 0, 0) == -1 {
                let code = errno
                throw InitFailure("raise ambient capability \(capability): \(errnoText(code))")
            }
        }
    }
}
