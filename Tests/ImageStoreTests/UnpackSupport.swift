import Foundation
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Paths and helpers shared by the layer unpack tests.
enum UnpackFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let imagesDirectory = repository + "/Tests/images"

    static func toolExists(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
            || ["/usr/sbin", "/sbin"].contains { access("\($0)/\(name)", X_OK) == 0 }
    }

    static let umociAvailable = toolExists("umoci")

    /// Runs a program to completion; its output comes back, a failure throws with it.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw RunxlError(.internal, "\(program) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(text)")
        }
        return text
    }

    /// The layer blobs of `tag` in an OCI layout, in order, with their media types.
    static func layers(of layout: String, tag: String) throws -> [(path: String, mediaType: String)] {
        func load(_ path: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        func blob(_ digest: String) -> String { layout + "/blobs/sha256/" + String(digest.dropFirst("sha256:".count)) }
        let index = try load(layout + "/index.json")
        let manifests = index["manifests"] as? [[String: Any]] ?? []
        guard let descriptor = manifests.first(where: {
            ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag
        }), let digest = descriptor["digest"] as? String
        else { throw RunxlError(.imageNotFound, "no tag \(tag) in \(layout)") }
        let manifest = try load(blob(digest))
        return (manifest["layers"] as? [[String: Any]] ?? []).compactMap { layer in
            guard let digest = layer["digest"] as? String, let mediaType = layer["mediaType"] as? String else { return nil }
            return (blob(digest), mediaType)
        }
    }
}

/// A scratch directory removed when the test ends.
final class UnpackScratch {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/runxl-unpack-\(label)-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } })
        else { throw RunxlError(.io, "mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileSystem.removeTree(path) }
}

/// Everything observable about a directory tree, to show that nothing in it changed: names,
/// types, sizes, link counts, modes, times and contents.
func unpackTreeSnapshot(_ root: String) -> [String] {
    var lines: [String] = []
    func walk(_ relative: String) {
        let full = relative.isEmpty ? root : root + "/" + relative
        var info = stat()
        guard lstat(full, &info) == 0 else {
            lines.append("\(relative): absent")
            return
        }
        var line = "\(relative): mode \(String(info.st_mode, radix: 8)) size \(info.st_size) links \(info.st_nlink) "
            + "mtime \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) inode \(info.st_ino)"
        if (info.st_mode & S_IFMT) == S_IFREG, let bytes = try? FileSystem.read(full) {
            line += " content \(String(decoding: bytes, as: UTF8.self).debugDescription)"
        }
        lines.append(line)
        if (info.st_mode & S_IFMT) == S_IFDIR, let names = try? FileSystem.listDirectory(full) {
            for name in names { walk(relative.isEmpty ? name : relative + "/" + name) }
        }
    }
    walk("")
    return lines
}

func unpackFileKind(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & S_IFMT
}

func unpackReadText(_ path: String) -> String? {
    (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) }
}
