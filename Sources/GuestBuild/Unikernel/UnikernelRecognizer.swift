public import OCI
public import RunxlBase
import JSON

/// A unikernel as an image or bundle declares it, before anything is checked on disk.
public struct UnikernelDeclaration: Sendable, Equatable {
    /// Which packaging convention said so, for messages and `guest.json`.
    public enum Convention: String, Sendable, Codable {
        case runxl
        case uruncAnnotations = "urunc-annotations"
        case uruncFile = "urunc.json"
        case kraftkit
    }

    public var convention: Convention
    public var kind: UnikernelKind
    /// Paths inside the rootfs, absolute.
    public var binary: String
    public var initrd: String?
    public var block: String?
    public var blockMountPoint: String?
    /// Kernel parameters before the application's arguments.
    public var parameters: [String]
    /// Used when the OCI process has no arguments (urunc's `cmdline`).
    public var defaultArguments: [String]
    /// The key (or file) each path came from, for errors naming what to fix.
    public var binarySource: String
    public var initrdSource: String?
    public var blockSource: String?
}

/// Decides whether an image or bundle is a unikernel and how it is declared. The conventions, in
/// order: runxl's `org.runxl.unikernel.*` annotations, urunc's `com.urunc.unikernel.*`
/// annotations, urunc's `/urunc.json`, kraftkit's layout. None of them: a Linux container (nil).
///
/// Every error is thrown here or in `UnikernelBuilder`, before any domain exists.
public enum UnikernelRecognizer {
    /// `annotations`: config.json's (the image paths merge the image's recognized annotations and
    /// labels in first, see `UnikernelImageHints`). `rootfs`: where the files are looked up.
    public static func recognize(annotations: [String: String], rootfs: RootfsLookup?) throws(RunxlError) -> UnikernelDeclaration? {
        if annotations.keys.contains(where: { $0.hasPrefix(UnikernelAnnotations.Runxl.prefix) }) {
            return try runxl(annotations)
        }
        let urunc = annotations.filter { UnikernelAnnotations.Urunc.all.contains($0.key) }
        if !urunc.isEmpty {
            return try uruncDeclaration(urunc, convention: .uruncAnnotations, source: "annotation")
        }
        if let rootfs, let file = rootfs.hostPath(of: UnikernelAnnotations.Urunc.configFile), regularFileSize(file) != nil {
            return try uruncDeclaration(try readUruncFile(file), convention: .uruncFile, source: UnikernelAnnotations.Urunc.configFile + " key")
        }
        return try kraftkit(annotations, rootfs: rootfs)
    }

    // MARK: runxl

    static func runxl(_ annotations: [String: String]) throws(RunxlError) -> UnikernelDeclaration {
        typealias Keys = UnikernelAnnotations.Runxl
        for key in annotations.keys where key.hasPrefix(Keys.prefix) && !Keys.all.contains(key) {
            throw RunxlError(
                .invalidUnikernel,
                "annotation \(key) is not one runxl knows; the unikernel keys are: \(Keys.all.joined(separator: ", "))")
        }
        guard let typeName = annotations[Keys.type] else {
            throw RunxlError(.invalidUnikernel, "annotation \(Keys.type) is missing: say which unikernel this is (\(UnikernelKind.acceptedNames))")
        }
        let kind = try self.kind(typeName, key: "annotation \(Keys.type)")
        guard let binary = annotations[Keys.binary], !binary.isEmpty else {
            throw RunxlError(.invalidUnikernel, "annotation \(Keys.binary) is missing: give the path of the unikernel ELF in the rootfs")
        }
        return UnikernelDeclaration(
            convention: .runxl, kind: kind, binary: try rootfsPath(binary, key: "annotation \(Keys.binary)"),
            initrd: try annotations[Keys.initrd].map { (path: String) throws(RunxlError) in try rootfsPath(path, key: "annotation \(Keys.initrd)") },
            block: try annotations[Keys.block].map { (path: String) throws(RunxlError) in try rootfsPath(path, key: "annotation \(Keys.block)") },
            blockMountPoint: annotations[Keys.blockMountPoint],
            parameters: try words(annotations[Keys.parameters] ?? "", key: "annotation \(Keys.parameters)"),
            defaultArguments: [], binarySource: "annotation \(Keys.binary)",
            initrdSource: "annotation \(Keys.initrd)", blockSource: "annotation \(Keys.block)")
    }

    // MARK: urunc

    static func uruncDeclaration(
        _ encoded: [String: String], convention: UnikernelDeclaration.Convention, source: String
    ) throws(RunxlError) -> UnikernelDeclaration {
        typealias Keys = UnikernelAnnotations.Urunc
        var values: [String: String] = [:]
        for (key, value) in encoded { values[key] = decodeUruncValue(value) }
        let missing = [Keys.type, Keys.hypervisor, Keys.binary].filter { (values[$0] ?? "").isEmpty }
        guard missing.isEmpty else {
            throw RunxlError(.invalidUnikernel, "urunc unikernel without \(source) \(missing.joined(separator: ", ")) (all of unikernelType, hypervisor, binary are required)")
        }
        let hypervisor = values[Keys.hypervisor] ?? ""
        guard hypervisor.lowercased() == "xen" else {
            throw RunxlError(
                .invalidUnikernel,
                "\(source) \(Keys.hypervisor) is '\(hypervisor)': runxl boots unikernels on Xen only; use an image built for hypervisor xen")
        }
        let kind = try self.kind(values[Keys.type] ?? "", key: "\(source) \(Keys.type)")
        return UnikernelDeclaration(
            convention: convention, kind: kind, binary: try rootfsPath(values[Keys.binary] ?? "", key: "\(source) \(Keys.binary)"),
            initrd: try values[Keys.initrd].flatMap { $0.isEmpty ? nil : $0 }.map { (path: String) throws(RunxlError) in try rootfsPath(path, key: "\(source) \(Keys.initrd)") },
            block: try values[Keys.block].flatMap { $0.isEmpty ? nil : $0 }.map { (path: String) throws(RunxlError) in try rootfsPath(path, key: "\(source) \(Keys.block)") },
            blockMountPoint: values[Keys.blockMountPoint].flatMap { $0.isEmpty ? nil : $0 },
            parameters: [], defaultArguments: try words(values[Keys.cmdline] ?? "", key: "\(source) \(Keys.cmdline)"),
            binarySource: "\(source) \(Keys.binary)", initrdSource: "\(source) \(Keys.initrd)", blockSource: "\(source) \(Keys.block)")
    }

    /// urunc's value encoding (config.go, decodeConfigValue): `b64:` then base64; else base64
    /// that decodes to text (older bima images); else the text itself. Decoded text must be
    /// printable ASCII here, which keeps a plain value from being misread as base64.
    public static func decodeUruncValue(_ value: String) -> String {
        if value.hasPrefix("b64:") {
            return Base64.decode(String(value.dropFirst(4))).map { String(decoding: $0, as: UTF8.self) } ?? value
        }
        if let bytes = Base64.decode(value), !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return value
    }

    static func readUruncFile(_ path: String) throws(RunxlError) -> [String: String] {
        let file = UnikernelAnnotations.Urunc.configFile
        guard let size = regularFileSize(path), size <= 1 << 20 else {
            throw RunxlError(.invalidUnikernel, "\(file) in the rootfs is larger than 1 MiB")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(try FileSystem.read(path))
        } catch {
            throw RunxlError(.invalidUnikernel, "\(file) in the rootfs is not JSON: \(error)")
        }
        guard case .object(let members) = value else {
            throw RunxlError(.invalidUnikernel, "\(file) in the rootfs is not a JSON object")
        }
        var result: [String: String] = [:]
        for (key, member) in members where UnikernelAnnotations.Urunc.all.contains(key) {
            guard case .string(let text) = member else {
                throw RunxlError(.invalidUnikernel, "\(file): \(key) is not a string")
            }
            result[key] = text
        }
        return result
    }

    // MARK: kraftkit

    static func kraftkit(_ annotations: [String: String], rootfs: RootfsLookup?) throws(RunxlError) -> UnikernelDeclaration? {
        typealias Keys = UnikernelAnnotations.Kraftkit
        let declaredKernel = annotations[Keys.kernel]
        let layoutKernel = rootfs?.hostPath(of: Keys.kernelPath).flatMap { regularFileSize($0) } != nil
        guard declaredKernel != nil || layoutKernel else { return nil }
        if let platform = annotations[Keys.platform], platform.lowercased() != "xen" {
            throw RunxlError(
                .invalidUnikernel,
                "this Unikraft image is built for platform '\(platform)' (\(Keys.platform) or the image's os); runxl boots the xen platform only")
        }
        let binary = try rootfsPath(declaredKernel ?? Keys.kernelPath, key: declaredKernel == nil ? Keys.kernelPath : "annotation \(Keys.kernel)")
        var initrd = annotations[Keys.initrd]
        if initrd == nil, let rootfs, rootfs.hostPath(of: Keys.initrdPath).flatMap({ regularFileSize($0) }) != nil {
            initrd = Keys.initrdPath
        }
        return UnikernelDeclaration(
            convention: .kraftkit, kind: .unikraft, binary: binary,
            initrd: try initrd.map { (path: String) throws(RunxlError) in try rootfsPath(path, key: "annotation \(Keys.initrd)") },
            block: nil, blockMountPoint: nil, parameters: [], defaultArguments: [],
            binarySource: declaredKernel == nil ? "kraftkit's layout" : "annotation \(Keys.kernel)",
            initrdSource: "kraftkit's layout", blockSource: nil)
    }

    // MARK: helpers

    static func kind(_ name: String, key: String) throws(RunxlError) -> UnikernelKind {
        guard let kind = UnikernelKind(name: name) else {
            throw RunxlError(
                .invalidUnikernel, "\(key) is '\(name)', not a unikernel type runxl boots on Xen; use one of: \(UnikernelKind.acceptedNames)")
        }
        return kind
    }

    /// An absolute path inside the rootfs; a relative one is taken from the rootfs's top.
    static func rootfsPath(_ path: String, key: String) throws(RunxlError) -> String {
        guard !path.isEmpty else { throw RunxlError(.invalidUnikernel, "\(key) is empty") }
        try UnikernelCommandLine.requirePrintable(path, field: key)
        return path.hasPrefix("/") ? path : "/" + path
    }

    static func words(_ text: String, key: String) throws(RunxlError) -> [String] {
        try UnikernelCommandLine.requirePrintable(text, field: key)
        return text.split(separator: " ").map(String.init)
    }
}

/// The recognized annotations and labels of an image, to be merged into a bundle's config.json:
/// podman and containerd do not reliably carry image annotations into a container's, and
/// runxl's own image paths (`launch IMAGE`, `image convert IMAGE`) build the bundle themselves.
public enum UnikernelImageHints {
    /// Manifest annotations, then config labels, then layer annotations (kraftkit puts the
    /// kernel's path on its layer); the config's `os` when it names a kraftkit platform.
    public static func annotations(manifest: Manifest, config: ImageConfig) -> [String: String] {
        var result: [String: String] = [:]
        func take(_ source: [String: String]?) {
            for (key, value) in source ?? [:] where UnikernelAnnotations.isRecognized(key) && result[key] == nil {
                result[key] = value
            }
        }
        take(manifest.annotations)
        take(config.config?.labels)
        for layer in manifest.layers { take(layer.annotations) }
        let os = config.os.lowercased()
        if os != "linux", UnikernelAnnotations.Kraftkit.platforms.contains(os),
            result[UnikernelAnnotations.Kraftkit.platform] == nil,
            result.keys.contains(where: { UnikernelAnnotations.Kraftkit.all.contains($0) })
        {
            result[UnikernelAnnotations.Kraftkit.platform] = os
        }
        return result
    }
}

/// RFC 4648 base64 (standard alphabet, `=` padding), for urunc's encoded values.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count % 4 == 0 else { return nil }
        func value(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): return 62
            case UInt8(ascii: "/"): return 63
            default: return nil
            }
        }
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<index + 4]
            let padding = chunk.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            guard padding <= 2, index + 4 == bytes.count || padding == 0 else { return nil }
            var accumulator: UInt32 = 0
            for (position, byte) in chunk.enumerated() {
                if position >= 4 - padding {
                    accumulator <<= 6
                    continue
                }
                guard let sextet = value(byte) else { return nil }
                accumulator = accumulator << 6 | UInt32(sextet)
            }
            out.append(UInt8(accumulator >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(accumulator >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(accumulator & 0xFF)) }
            index += 4
        }
        return out
    }
}
