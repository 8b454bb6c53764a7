// The closed string sets of runtime-spec 1.3.0's JSON schema (defs-*.json), as Swift enums.

/// A string enum from the schema. Decoding an unknown member fails with the allowed values,
/// so `freebsd.jail.vnet: "disable"` is reported as such instead of as a generic corruption.
public protocol SpecEnumeration: RawRepresentable, CaseIterable, Codable, Sendable, Hashable
where RawValue == String {}

extension SpecEnumeration {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(raw)\" is not one of \(allowed)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public enum LinuxNamespaceType: String, SpecEnumeration {
    case mount, pid, network, uts, ipc, user, cgroup, time
}

public enum LinuxRootfsPropagation: String, SpecEnumeration {
    case `private`, shared, slave, unbindable
}

public enum LinuxIOPriorityClass: String, SpecEnumeration {
    case realtime = "IOPRIO_CLASS_RT"
    case bestEffort = "IOPRIO_CLASS_BE"
    case idle = "IOPRIO_CLASS_IDLE"
}

public enum LinuxSchedulerPolicy: String, SpecEnumeration {
    case other = "SCHED_OTHER"
    case fifo = "SCHED_FIFO"
    case roundRobin = "SCHED_RR"
    case batch = "SCHED_BATCH"
    case iso = "SCHED_ISO"
    case idle = "SCHED_IDLE"
    case deadline = "SCHED_DEADLINE"
}

public enum LinuxSchedulerFlag: String, SpecEnumeration {
    case resetOnFork = "SCHED_FLAG_RESET_ON_FORK"
    case reclaim = "SCHED_FLAG_RECLAIM"
    case deadlineOverrun = "SCHED_FLAG_DL_OVERRUN"
    case keepPolicy = "SCHED_FLAG_KEEP_POLICY"
    case keepParams = "SCHED_FLAG_KEEP_PARAMS"
    case utilClampMin = "SCHED_FLAG_UTIL_CLAMP_MIN"
    case utilClampMax = "SCHED_FLAG_UTIL_CLAMP_MAX"
}

public enum LinuxSeccompAction: String, SpecEnumeration {
    case kill = "SCMP_ACT_KILL"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW"
    case log = "SCMP_ACT_LOG"
    case notify = "SCMP_ACT_NOTIFY"
}

public enum LinuxSeccompFlag: String, SpecEnumeration {
    case tsync = "SECCOMP_FILTER_FLAG_TSYNC"
    case log = "SECCOMP_FILTER_FLAG_LOG"
    case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
}

public enum LinuxSeccompOperator: String, SpecEnumeration {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

public enum LinuxSeccompArch: String, SpecEnumeration {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case loongarch64 = "SCMP_ARCH_LOONGARCH64"
    case m68k = "SCMP_ARCH_M68K"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case sh = "SCMP_ARCH_SH"
    case sheb = "SCMP_ARCH_SHEB"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"
}

public enum LinuxMemoryPolicyMode: String, SpecEnumeration {
    case `default` = "MPOL_DEFAULT"
    case bind = "MPOL_BIND"
    case interleave = "MPOL_INTERLEAVE"
    case weightedInterleave = "MPOL_WEIGHTED_INTERLEAVE"
    case preferred = "MPOL_PREFERRED"
    case preferredMany = "MPOL_PREFERRED_MANY"
    case local = "MPOL_LOCAL"
}

public enum LinuxMemoryPolicyFlag: String, SpecEnumeration {
    case numaBalancing = "MPOL_F_NUMA_BALANCING"
    case relativeNodes = "MPOL_F_RELATIVE_NODES"
    case staticNodes = "MPOL_F_STATIC_NODES"
}

public enum LinuxPersonalityDomain: String, SpecEnumeration {
    case linux = "LINUX"
    case linux32 = "LINUX32"
}

public enum VMImageFormat: String, SpecEnumeration {
    case raw, qcow2, vdi, vmdk, vhd
}

public enum WindowsDeviceIDType: String, SpecEnumeration {
    case `class`
}

/// How a FreeBSD jail shares a resource with its parent.
public enum FreeBSDSharing: String, SpecEnumeration {
    case disable, new, inherit
}

/// `host` and `vnet` cannot be disabled, only made new or inherited.
public enum FreeBSDSharingNoDisable: String, SpecEnumeration {
    case new, inherit
}

public enum ZOSNamespaceType: String, SpecEnumeration {
    case mount, pid, uts, ipc
}
