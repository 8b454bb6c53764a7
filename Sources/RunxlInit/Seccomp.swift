import CSeccomp
import Glibc
import GuestProtocol

/// Builds and loads the runtime-spec seccomp profile with libseccomp, following runc's rules:
/// unknown syscall names are skipped (a profile lists syscalls of every architecture), a rule
/// whose action equals the default is skipped, and several conditions on one argument become
/// one rule each (ORed) rather than one rule with all (ANDed, which libseccomp refuses).
enum SeccompFilter {
    static func action(_ action: SeccompAction, errnoRet: UInt32?) -> UInt32 {
        switch action {
        case .kill, .killThread: return 0x0000_0000
        case .killProcess: return 0x8000_0000
        case .trap: return 0x0003_0000
        case .errno: return 0x0005_0000 | ((errnoRet ?? UInt32(EPERM)) & 0xFFFF)
        case .trace: return 0x7FF0_0000 | ((errnoRet ?? UInt32(EPERM)) & 0xFFFF)
        case .allow: return 0x7FFF_0000
        case .log: return 0x7FFC_0000
        case .notify: return 0x7FC0_0000
        }
    }

    static func comparison(_ op: SeccompOperator) -> scmp_compare {
        switch op {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }

    /// Loads the filter into the calling process (inherited across fork and exec).
    static func load(_ profile: SeccompProfile) throws(InitFailure) {
        if profile.defaultAction == .notify || profile.syscalls.contains(where: { $0.action == .notify }) {
            throw InitFailure("seccomp action SCMP_ACT_NOTIFY needs a listener, which runxl guests do not have")
        }
        let defaultAction = action(profile.defaultAction, errnoRet: profile.defaultErrnoRet)
        guard let context = seccomp_init(defaultAction) else {
            throw InitFailure("seccomp_init failed for default action \(profile.defaultAction.rawValue)")
        }
        defer { seccomp_release(context) }
        // No-new-privileges is the process file's decision, not libseccomp's.
        try call(seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0), "seccomp: clear the no_new_privs attribute")
        for architecture in profile.architectures {
            guard architecture.hasPrefix("SCMP_ARCH_") else {
                throw InitFailure("seccomp architecture '\(architecture)' is not an SCMP_ARCH_ name")
            }
            let name = String(architecture.dropFirst("SCMP_ARCH_".count)).lowercased()
            let token = seccomp_arch_resolve_name(name)
            guard token != 0 else { throw InitFailure("seccomp architecture \(architecture) is unknown to libseccomp") }
            let result = seccomp_arch_add(context, token)
            if result != 0 && result != -EEXIST {
                throw InitFailure("seccomp: add architecture \(architecture): \(errnoText(-result))")
            }
        }
        for flag in profile.flags {
            switch flag {
            case "SECCOMP_FILTER_FLAG_LOG": try call(seccomp_attr_set(context, SCMP_FLTATR_CTL_LOG, 1), "seccomp flag \(flag)")
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW": try call(seccomp_attr_set(context, SCMP_FLTATR_CTL_SSB, 1), "seccomp flag \(flag)")
            case "SECCOMP_FILTER_FLAG_TSYNC": try call(seccomp_attr_set(context, SCMP_FLTATR_CTL_TSYNC, 1), "seccomp flag \(flag)")
            default: throw InitFailure("seccomp flag '\(flag)' is not supported")
            }
        }
        for rule in profile.syscalls {
            let ruleAction = action(rule.action, errnoRet: rule.errnoRet)
            if ruleAction == defaultAction { continue }
            let conditions = rule.args.map {
                scmp_arg_cmp(arg: $0.index, op: comparison($0.op), datum_a: $0.value, datum_b: $0.valueTwo)
            }
            let indexes = rule.args.map(\.index)
            let repeatsAnArgument = Set(indexes).count != indexes.count
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }
                if repeatsAnArgument {
                    for condition in conditions {
                        var single = condition
                        try call(seccomp_rule_add_array(context, ruleAction, number, 1, &single), "seccomp rule for \(name)")
                    }
                } else {
                    let result = conditions.withUnsafeBufferPointer {
                        seccomp_rule_add_array(context, ruleAction, number, UInt32($0.count), $0.baseAddress)
                    }
                    try call(result, "seccomp rule for \(name)")
                }
            }
        }
        try call(seccomp_load(context), "seccomp_load")
    }

    private static func call(_ result: Int32, _ what: String) throws(InitFailure) {
        if result < 0 { throw InitFailure("\(what): \(errnoText(-result))") }
    }
}
