// The runtime-spec 1.3.0 schema constraints that Swift types cannot express (patterns, enums over
// free strings, minimums, minItems), and the extra checks `create` needs.
import FoundationEssentials
public import RunxlBase

/// Fails with the schema's pattern and an example when `value` does not match it entirely.
func requireMatch(
    _ value: String, _ regex: Regex<Substring>, pattern: String, example: String, at path: FieldPath
) throws(FieldViolation) {
    guard value.wholeMatch(of: regex) == nil else { return }
    throw FieldViolation(path, "\"\(value)\" does not match \(pattern) (for example \(example))")
}

func requireFileMode(_ mode: UInt32?, at path: FieldPath) throws(FieldViolation) {
    guard let mode, mode > 511 else { return }
    throw FieldViolation(path, "\(mode) is not a permission mode: give it in decimal, 0 to 511 (0o777)")
}

/// For lists the schema types as enums but the Go types (and so other runtimes) keep as strings.
func requireMembers<E: SpecEnumeration>(_ values: [String]?, of type: E.Type, at path: FieldPath) throws(FieldViolation) {
    for (index, value) in (values ?? []).enumerated() where E(rawValue: value) == nil {
        let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        throw FieldViolation(path[index], "\"\(value)\" is not one of \(allowed)")
    }
}

extension Spec {
    public func checkSchema() throws(FieldViolation) {
        let at = FieldPath()
        if let process { try process.checkSchema(at: at["process"]) }
        if let hooks { try hooks.checkSchema(at: at["hooks"]) }
        if let linux { try linux.checkSchema(at: at["linux"]) }
        if let windows, windows.layerFolders.isEmpty {
            throw FieldViolation(at["windows"]["layerFolders"], "must list at least one folder")
        }
        for (index, device) in (freebsd?.devices ?? []).enumerated() {
            try requireFileMode(device.mode, at: at["freebsd"]["devices"][index]["mode"])
        }
    }
}

extension Process {
    func checkSchema(at path: FieldPath) throws(FieldViolation) {
        for (index, rlimit) in (rlimits ?? []).enumerated() {
            try requireMatch(
                rlimit.type, /RLIMIT_[A-Z]+/, pattern: "^RLIMIT_[A-Z]+$", example: "RLIMIT_NOFILE",
                at: path["rlimits"][index]["type"])
        }
        if let affinity = execCPUAffinity {
            for (name, list) in [("initial", affinity.initial), ("final", affinity.final)] {
                guard let list else { continue }
                try requireMatch(
                    list, /[0-9, -]*/, pattern: "^[0-9, -]*$", example: "0-3,7", at: path["execCPUAffinity"][name])
            }
        }
    }
}

extension Hooks {
    func checkSchema(at path: FieldPath) throws(FieldViolation) {
        let stages = [
            ("prestart", prestart), ("createRuntime", createRuntime), ("createContainer", createContainer),
            ("startContainer", startContainer), ("poststart", poststart), ("poststop", poststop),
        ]
        for (stage, hooks) in stages {
            for (index, hook) in (hooks ?? []).enumerated() {
                if let timeout = hook.timeout, timeout < 1 {
                    throw FieldViolation(path[stage][index]["timeout"], "must be at least 1 second, found \(timeout)")
                }
            }
        }
    }
}

extension Linux {
    func checkSchema(at path: FieldPath) throws(FieldViolation) {
        for (index, device) in (devices ?? []).enumerated() {
            try requireMatch(device.type, /[cbup]/, pattern: "^[cbup]$", example: "c", at: path["devices"][index]["type"])
            try requireFileMode(device.fileMode, at: path["devices"][index]["fileMode"])
        }
        for (index, limit) in (resources?.hugepageLimits ?? []).enumerated() {
            try requireMatch(
                limit.pageSize, /[1-9][0-9]*[KMG]B/, pattern: "^[1-9][0-9]*[KMG]B$", example: "2MB",
                at: path["resources"]["hugepageLimits"][index]["pageSize"])
        }
        for (index, syscall) in (seccomp?.syscalls ?? []).enumerated() where syscall.names.isEmpty {
            throw FieldViolation(path["seccomp"]["syscalls"][index]["names"], "must name at least one system call")
        }
        if let schema = intelRdt?.memBwSchema {
            try requireMatch(schema, /MB:[^\n]*/, pattern: "^MB:[^\\n]*$", example: "MB:0=70", at: path["intelRdt"]["memBwSchema"])
        }
    }
}

extension Features {
    public func checkSchema() throws(FieldViolation) {
        guard let linux else { return }
        let at = FieldPath()["linux"]
        try requireMembers(linux.namespaces, of: LinuxNamespaceType.self, at: at["namespaces"])
        for (index, capability) in (linux.capabilities ?? []).enumerated() {
            try requireMatch(
                capability, /CAP_[A-Z_]+/, pattern: "^CAP_[A-Z_]+$", example: "CAP_KILL", at: at["capabilities"][index])
        }
        if let seccomp = linux.seccomp {
            try requireMembers(seccomp.actions, of: LinuxSeccompAction.self, at: at["seccomp"]["actions"])
            try requireMembers(seccomp.operators, of: LinuxSeccompOperator.self, at: at["seccomp"]["operators"])
            try requireMembers(seccomp.archs, of: LinuxSeccompArch.self, at: at["seccomp"]["archs"])
            try requireMembers(seccomp.knownFlags, of: LinuxSeccompFlag.self, at: at["seccomp"]["knownFlags"])
            try requireMembers(seccomp.supportedFlags, of: LinuxSeccompFlag.self, at: at["seccomp"]["supportedFlags"])
        }
    }
}

// MARK: what create needs

extension Spec {
    /// Reads `<bundle>/config.json`; a missing file is `.bundleNotFound`.
    public static func load(bundle: String) throws(RunxlError) -> Spec {
        try load(path: bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json", missingCode: .bundleNotFound)
    }

    /// The root filesystem's absolute path: `root.path` if absolute, else relative to `bundle`.
    /// Nil when the config has no `root`.
    public func rootfsPath(bundle: String) -> String? {
        guard let path = root?.path, !path.isEmpty else { return nil }
        if path.hasPrefix("/") { return path }
        return (bundle.hasSuffix("/") ? bundle : bundle + "/") + path
    }

    /// Checks what the schema leaves optional but starting a container needs: a process with a
    /// program and an absolute working directory, well-formed environment entries, a root
    /// filesystem that exists. Returns the rootfs path (see `rootfsPath(bundle:)`).
    ///
    /// Errors are `.invalidConfig` naming the field, or `.bundleNotFound` for a missing rootfs.
    @discardableResult
    public func validateForCreate(bundle: String, documentName: String = Spec.documentName) throws(RunxlError) -> String {
        func invalid(_ path: FieldPath, _ problem: String) -> RunxlError {
            RunxlError(.invalidConfig, "\(documentName): \(FieldViolation(path, problem))")
        }
        let at = FieldPath()
        guard let process else {
            throw invalid(at["process"], "required to create a container (runxl spec writes a complete config.json)")
        }
        guard let program = process.args?.first, !program.isEmpty else {
            throw invalid(at["process"]["args"], "must name the program to run (it is missing or empty)")
        }
        _ = program
        guard process.cwd.hasPrefix("/") else {
            throw invalid(at["process"]["cwd"], "must be an absolute path, found \"\(process.cwd)\"")
        }
        for (index, entry) in (process.env ?? []).enumerated() {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                let name = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                throw invalid(at["process"]["env"][index], "must be KEY=value, found an entry named \"\(name)\" without one")
            }
        }
        guard let rootfs = rootfsPath(bundle: bundle) else {
            throw invalid(at["root"]["path"], "required to create a container: the directory holding the container's files")
        }
        if let kernel = vm?.kernel, kernel.path.isEmpty {
            throw invalid(at["vm"]["kernel"]["path"], "must not be empty (leave out vm to use runxl's default kernel)")
        }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: rootfs, isDirectory: &isDirectory), isDirectory else {
            throw RunxlError(.bundleNotFound, "\(documentName): root.path: the root filesystem \(rootfs) is not a directory")
        }
        return rootfs
    }
}
