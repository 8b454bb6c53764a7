// Environment values hold secrets (tokens, passwords): descriptions, debug descriptions and
// mirrors of processes and hooks show only the variable names, so logs and `dump` cannot leak them.

/// `KEY=value` entries with each value replaced by `<redacted>`.
public func redactedEnvironment(_ env: [String]?) -> [String]? {
    env?.map { entry in
        guard let equals = entry.firstIndex(of: "=") else { return "<redacted>" }
        return entry[..<equals] + "=<redacted>"
    }
}

/// Renders a mirror's non-nil children as `Name(label: value, ...)`.
private func describeRedacted(_ mirror: Mirror, typeName: String) -> String {
    let fields = mirror.children.compactMap { child -> String? in
        guard let label = child.label else { return nil }
        if case Optional<Any>.none = child.value { return nil }
        return "\(label): \(unwrapForDisplay(child.value))"
    }
    return "\(typeName)(\(fields.joined(separator: ", ")))"
}

private func unwrapForDisplay(_ value: Any) -> String {
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional, let wrapped = mirror.children.first?.value {
        return String(describing: wrapped)
    }
    return String(describing: value)
}

extension Process: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                ("terminal", terminal as Any), ("consoleSize", consoleSize as Any), ("user", user as Any),
                ("args", args as Any), ("commandLine", commandLine as Any), ("env", redactedEnvironment(env) as Any),
                ("cwd", cwd as Any), ("capabilities", capabilities as Any), ("rlimits", rlimits as Any),
                ("noNewPrivileges", noNewPrivileges as Any), ("apparmorProfile", apparmorProfile as Any),
                ("oomScoreAdj", oomScoreAdj as Any), ("scheduler", scheduler as Any), ("selinuxLabel", selinuxLabel as Any),
                ("ioPriority", ioPriority as Any), ("execCPUAffinity", execCPUAffinity as Any),
            ],
            displayStyle: .struct)
    }

    public var description: String { describeRedacted(customMirror, typeName: "Process") }
    public var debugDescription: String { description }
}

extension Hook: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                ("path", path as Any), ("args", args as Any), ("env", redactedEnvironment(env) as Any),
                ("timeout", timeout as Any),
            ],
            displayStyle: .struct)
    }

    public var description: String { describeRedacted(customMirror, typeName: "Hook") }
    public var debugDescription: String { description }
}
