import JSON
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The on-disk state of every container under `--root`: one directory per container holding
/// `state.json` (written atomically) and a `lock` file.
///
/// The directory is created with `mkdir`, which is atomic: of several runxl processes racing to
/// create the same id exactly one wins, and the losers never touch the winner's files.
public struct StateStore: Sendable {
    public let root: String
    static let recordName = "state.json"
    /// The spec as create used it; named like a bundle's so that the state directory of a
    /// container without one (`launch`) is a bundle too.
    static let specName = "config.json"
    static let lockName = "lock"

    public init(root: String) {
        self.root = root
    }

    public func directory(_ id: ContainerID) -> String { "\(root)/\(id.rawValue)" }

    /// Claims `id` for a new container and writes its first record. Throws `.containerExists`
    /// when the id is taken, leaving the existing container untouched.
    public func claim(_ record: ContainerRecord, id: ContainerID) throws(RunxlError) {
        try FileSystem.makeDirectories(root)
        guard try FileSystem.makeDirectory(directory(id)) else {
            throw RunxlError(.containerExists, "container \(id) already exists")
        }
        do {
            // The lock file exists from the start: later lockers never create it (see `lock`).
            try FileLock(path: lockPath(id)).unlock()
            try save(record, id: id)
        } catch {
            try? FileSystem.removeTree(directory(id))
            throw error
        }
    }

    /// Takes the container's lock; every read-modify-write of a record happens under it.
    ///
    /// The lock file is never created here: a process that waited for the lock of a container
    /// being deleted would otherwise put the file back between the remover's unlink and rmdir.
    /// (A record written before claims made the file gets one, as it always did.)
    /// The lock held is the one at the path when this returns: a process that waited while
    /// another deleted the container (and perhaps a third created it anew) sees that.
    public func lock(_ id: ContainerID, timeoutSeconds: Double = 30) throws(RunxlError) -> FileLock {
        while true {
            guard FileSystem.isDirectory(directory(id)) else { throw Self.notFound(id) }
            let lock: FileLock
            do {
                lock = try FileLock(path: lockPath(id), timeoutSeconds: timeoutSeconds, create: false)
            } catch where error.cause is LockFileMissing {
                guard FileSystem.exists(recordPath(id)) else { throw Self.notFound(id) }
                lock = try FileLock(path: lockPath(id), timeoutSeconds: timeoutSeconds)
            }
            if lock.isFile(at: lockPath(id)) { return lock }
            lock.unlock()
        }
    }

    func lockPath(_ id: ContainerID) -> String { "\(directory(id))/\(Self.lockName)" }
    func recordPath(_ id: ContainerID) -> String { "\(directory(id))/\(Self.recordName)" }
    func markerPath(_ id: ContainerID) -> String { "\(directory(id))/\(Self.deletingName)" }
    static let deletingName = "deleting"

    /// Notes, under the lock, that `delete` has begun: if that process dies, `gc` finishes the
    /// delete instead of leaving a container half removed (the record of a stopped container is
    /// otherwise kept for its client's own delete).
    public func markDeleting(_ id: ContainerID) throws(RunxlError) {
        let me = getpid()
        let started = Processes.startTime(of: me).map(String.init) ?? ""
        try FileSystem.writeAtomically(markerPath(id), Array("\(me) \(started)\n".utf8), mode: 0o600)
    }

    /// The process that began deleting `id`, when one did.
    public func deletingProcess(_ id: ContainerID) -> (pid: Int32, startTime: UInt64?)? {
        guard let bytes = try? FileSystem.read(markerPath(id)) else { return nil }
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let first = words.first, let pid = Int32(first) else { return nil }
        return (pid, words.dropFirst().first.flatMap { UInt64($0) })
    }

    /// Removes the record first, so that a removal cut short leaves "no record" (which
    /// `delete --force` and `gc` finish) rather than a record without its lock.
    public func removeRecord(_ id: ContainerID) throws(RunxlError) {
        try FileSystem.removeTree(recordPath(id))
    }

    public func load(_ id: ContainerID) throws(RunxlError) -> ContainerRecord {
        let path = recordPath(id)
        guard FileSystem.exists(path) else { throw Self.notFound(id) }
        let bytes = try FileSystem.read(path)
        do {
            return try JSONDocument.decode(ContainerRecord.self, from: bytes, documentName: path, code: .invalidDocument)
        } catch {
            throw RunxlError(.invalidDocument, "state of container \(id) is unreadable (\(path)); delete --force removes it", cause: error)
        }
    }

    public func save(_ record: ContainerRecord, id: ContainerID) throws(RunxlError) {
        let bytes: [UInt8]
        do {
            bytes = try JSONValue.encoding(record).serialized(pretty: false)
        } catch {
            throw RunxlError(.internal, "cannot encode the state of container \(id)", cause: error)
        }
        try FileSystem.writeAtomically("\(directory(id))/\(Self.recordName)", bytes)
    }

    /// The spec a container was created with, beside its record (`specName`).
    public func saveSpec(_ spec: Spec, id: ContainerID) throws(RunxlError) {
        // 0600: the process's environment may hold secrets.
        try FileSystem.writeAtomically("\(directory(id))/\(Self.specName)", [UInt8](try spec.encoded(pretty: false)), mode: 0o600)
    }

    /// The spec `create` saved; a container created by an older runxl, which saved none, has
    /// its bundle's config.json.
    public func spec(of record: ContainerRecord, id: ContainerID) throws(RunxlError) -> Spec {
        let saved = "\(directory(id))/\(Self.specName)"
        guard FileSystem.exists(saved) else { return try Spec.load(bundle: record.bundle) }
        return try Spec.decode(try FileSystem.read(saved), documentName: saved)
    }

    /// Removes every file of the container.
    public func remove(_ id: ContainerID) throws(RunxlError) {
        try FileSystem.removeTree(directory(id))
    }

    /// The ids of every container directory (including ones whose record is unreadable); files
    /// beside them (a temporary file a killed runxl left) are not containers.
    public func ids() throws(RunxlError) -> [ContainerID] {
        guard FileSystem.isDirectory(root) else { return [] }
        return try FileSystem.listDirectory(root).compactMap { name in
            guard let id = try? ContainerID(name), FileSystem.isDirectory(directory(id)) else { return nil }
            return id
        }
    }

    public func exists(_ id: ContainerID) -> Bool { FileSystem.isDirectory(directory(id)) }

    static func notFound(_ id: ContainerID) -> RunxlError {
        RunxlError(.containerNotFound, "container \(id) does not exist")
    }
}
