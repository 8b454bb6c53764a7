internal import FoundationEssentials
public import RunxlBase

/// The on-disk state of every container under `--root`: one directory per container holding
/// `state.json` (written atomically) and a `lock` file.
///
/// The directory is created with `mkdir`, which is atomic: of several runxl processes racing to
/// create the same id exactly one wins, and the losers never touch the winner's files.
public struct StateStore: Sendable {
    public let root: String
    static let recordName = "state.json"
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
            try save(record, id: id)
        } catch {
            try? FileSystem.removeTree(directory(id))
            throw error
        }
    }

    /// Takes the container's lock; every read-modify-write of a record happens under it.
    public func lock(_ id: ContainerID) throws(RunxlError) -> FileLock {
        guard FileSystem.isDirectory(directory(id)) else { throw Self.notFound(id) }
        return try FileLock(path: "\(directory(id))/\(Self.lockName)")
    }

    public func load(_ id: ContainerID) throws(RunxlError) -> ContainerRecord {
        let path = "\(directory(id))/\(Self.recordName)"
        guard FileSystem.exists(path) else { throw Self.notFound(id) }
        let bytes = try FileSystem.read(path)
        do {
            return try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
        } catch {
            throw RunxlError(.invalidDocument, "state of container \(id) is unreadable (\(path)); delete --force removes it", cause: error)
        }
    }

    public func save(_ record: ContainerRecord, id: ContainerID) throws(RunxlError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(record)
        } catch {
            throw RunxlError(.internal, "cannot encode the state of container \(id)", cause: error)
        }
        try FileSystem.writeAtomically("\(directory(id))/\(Self.recordName)", [UInt8](data))
    }

    /// Removes every file of the container.
    public func remove(_ id: ContainerID) throws(RunxlError) {
        try FileSystem.removeTree(directory(id))
    }

    /// The ids of every container directory (including ones whose record is unreadable).
    public func ids() throws(RunxlError) -> [ContainerID] {
        guard FileSystem.isDirectory(root) else { return [] }
        return try FileSystem.listDirectory(root).compactMap { try? ContainerID($0) }
    }

    public func exists(_ id: ContainerID) -> Bool { FileSystem.isDirectory(directory(id)) }

    static func notFound(_ id: ContainerID) -> RunxlError {
        RunxlError(.containerNotFound, "container \(id) does not exist")
    }
}
