public import OCI
public import RunxlBase

/// From a stored image to what the rest of runxl runs: a root file system and an OCI bundle.
extension ContentStore {
    public func manifest(of image: StoredImage) throws(RunxlError) -> Manifest {
        try ImageDocuments.manifest(try readBlob(image.manifest.digest), source: "\(image.name) manifest \(image.manifest.digest)")
    }

    public func config(of image: StoredImage, manifest: Manifest) throws(RunxlError) -> ImageConfig {
        try ImageDocuments.config(try readBlob(manifest.config.digest), manifest: manifest, source: image.name)
    }

    /// Gives `rootfs` (created; it must not hold anything yet) the tree of the image's layers
    /// applied bottom first, as `umoci unpack` puts it in its bundle's rootfs.
    ///
    /// The longest leading run of layers that has a snapshot in the store is copied instead of
    /// applied, and the whole chain (and any prefix where stored images part ways) is kept as a
    /// snapshot for next time (LayerSnapshots.swift). `sharing` says whether the result may
    /// share inodes with the snapshot: `.copies` (the default) for a tree anyone may change,
    /// `.hardLinks` only for a tree runxl reads and deletes itself.
    @discardableResult
    public func unpack(_ image: StoredImage, into rootfs: String, sharing: RootfsSharing = .copies) throws(RunxlError) -> UnpackReport {
        let existed = FileSystem.exists(rootfs)
        if existed {
            guard FileSystem.isDirectory(rootfs) else { throw RunxlError(.io, "\(rootfs) exists and is not a directory") }
            guard try FileSystem.listDirectory(rootfs).isEmpty else {
                throw RunxlError(.io, "\(rootfs) is not empty: unpack into a new or empty directory")
            }
        }
        do {
            // Holds off garbage collection while layers and snapshots are read.
            let operation = try beginOperation("unpack")
            defer { operation.close() }
            return try unpackThroughSnapshots(image, into: rootfs, sharing: sharing, operation: operation)
        } catch {
            // Half a root file system is worse than none: take back what this unpack made.
            if existed {
                for name in (try? FileSystem.listDirectory(rootfs)) ?? [] { try? FileSystem.removeTree(rootfs + "/" + name) }
            } else {
                try? FileSystem.removeTree(rootfs)
            }
            throw error
        }
    }
}

extension ContentStore {
    /// The image's whole-chain snapshot (`wholeChainSnapshot`), unpacked first when the store
    /// has none yet: into this operation's staging under the store's own `tmp`, which is removed
    /// once the snapshot is stored. An image without layers has no tree to read.
    public func wholeChainSnapshotUnpacking(_ image: StoredImage) throws(RunxlError) -> String {
        if let snapshot = try wholeChainSnapshot(of: image) { return snapshot }
        guard !(try manifest(of: image).layers.isEmpty) else {
            throw RunxlError(.invalidDocument, "\(image.name) has no layers: there is no root file system to run")
        }
        do {
            let operation = try beginOperation("snapshot")
            defer { operation.close() }
            _ = try unpackThroughSnapshots(image, into: operation.staging + "/rootfs", sharing: .hardLinks, operation: operation)
        }
        guard let snapshot = try wholeChainSnapshot(of: image) else {
            throw RunxlError(.internal, "the unpack of \(image.name) stored no snapshot of its layers")
        }
        return snapshot
    }
}

/// A bundle (config.json + rootfs) made from an image, for `image convert` and `launch`.
public enum ImageBundle {
    /// Unpacks `image` into `directory/rootfs` and writes `directory/config.json` whose process
    /// is the image's (Entrypoint + Cmd, or Entrypoint + `args` when given; Env; WorkingDir; User).
    /// `sharing`: `.hardLinks` only when nothing writes to the rootfs (see `RootfsSharing`); then
    /// the rootfs is the store's snapshot, read in place (`readOnly`), and only config.json is
    /// written into `directory`.
    @discardableResult
    public static func create(
        _ image: StoredImage, store: ContentStore, at directory: String, args: [String] = [], terminal: Bool = false,
        sharing: RootfsSharing = .copies, commandRequired: Bool = true
    ) throws(RunxlError) -> Spec {
        try FileSystem.makeDirectories(directory, mode: 0o700)
        let spec: Spec
        if sharing == .hardLinks {
            spec = try readOnly(image, store: store, args: args, terminal: terminal, commandRequired: commandRequired)
        } else {
            let rootfs = directory + "/rootfs"
            try store.unpack(image, into: rootfs, sharing: sharing)
            let manifest = try store.manifest(of: image)
            let config = try store.config(of: image, manifest: manifest)
            spec = try self.spec(
                for: config, image: image.name, rootfs: rootfs, args: args, terminal: terminal, commandRequired: commandRequired)
        }
        try FileSystem.writeAtomically(directory + "/config.json", Array(try spec.encoded(pretty: true)) + [0x0A])
        return spec
    }

    /// The image's spec (as `create` writes it) with `root.path` the store's snapshot of the
    /// image's whole layer chain, read in place: what `launch IMAGE` and `image convert` of a
    /// unikernel image run, with no bundle written anywhere. A tree of new hard links each time
    /// would change every inode's ctime and defeat the initramfs cache, whose key is the tree's
    /// listing; the first call unpacks into the store's own staging, which stores the snapshot.
    /// Read-only by contract: nothing may write to the returned rootfs.
    public static func readOnly(
        _ image: StoredImage, store: ContentStore, args: [String] = [], terminal: Bool = false, commandRequired: Bool = true
    ) throws(RunxlError) -> Spec {
        let rootfs = try store.wholeChainSnapshotUnpacking(image)
        let manifest = try store.manifest(of: image)
        let config = try store.config(of: image, manifest: manifest)
        return try spec(for: config, image: image.name, rootfs: rootfs, args: args, terminal: terminal, commandRequired: commandRequired)
    }

    /// runxl's default spec with the image's process settings.
    public static func spec(
        for config: ImageConfig, image: String, rootfs: String, args: [String], terminal: Bool, commandRequired: Bool = true
    ) throws(RunxlError) -> Spec {
        let users = ImageUserDatabases(
            passwd: databaseBytes(rootfs, "etc/passwd"), group: databaseBytes(rootfs, "etc/group"))
        return try spec(
            for: config, image: image, rootfsPath: rootfs, args: args, terminal: terminal, users: users,
            commandRequired: commandRequired)
    }

    /// The same with the rootfs's user databases given as bytes (an image streamed, never
    /// unpacked). `users` nil leaves the user at 0:0 unresolved: the spec to key a cache with
    /// before the databases are read (the image's `User` text is in its manifest digest).
    /// `commandRequired` false: a unikernel's image, whose kernel is the program, may name no
    /// arguments at all (Unikraft's helloworld as kraftkit packages it).
    public static func spec(
        for config: ImageConfig, image: String, rootfsPath: String, args: [String], terminal: Bool,
        users: ImageUserDatabases?, commandRequired: Bool = true
    ) throws(RunxlError) -> Spec {
        let rootfs = rootfsPath
        let settings = config.config ?? ImageConfig.Config()
        let command = (settings.entrypoint ?? []) + (args.isEmpty ? settings.cmd ?? [] : args)
        guard !command.isEmpty || !commandRequired else {
            throw RunxlError(.invalidImage, "image \(image) has no Entrypoint or Cmd: give the command to run")
        }
        var spec = Spec.runxlDefault(args: command, terminal: terminal)
        spec.root = Root(path: rootfs, readonly: true)
        if var process = spec.process {
            process.env = mergedEnvironment(process.env ?? [], settings.env ?? [])
            if let directory = settings.workingDir, !directory.isEmpty {
                guard directory.hasPrefix("/") else {
                    throw RunxlError(.invalidImage, "image \(image): WorkingDir '\(directory)' is not absolute")
                }
                process.cwd = directory
            }
            if let users { process.user = try resolveUser(settings.user, users: users, image: image) }
            spec.process = process
        }
        return spec
    }

    /// The image's variables replace the defaults of the same name (PATH in particular).
    static func mergedEnvironment(_ defaults: [String], _ image: [String]) -> [String] {
        func key(_ entry: String) -> Substring { entry.split(separator: "=", maxSplits: 1).first ?? Substring(entry) }
        let imageKeys = Set(image.map(key))
        return defaults.filter { !imageKeys.contains(key($0)) } + image
    }

    /// `user`, `uid`, `user:group`, `uid:gid` as docker reads them, names looked up in the
    /// rootfs's /etc/passwd and /etc/group.
    static func resolveUser(_ text: String?, rootfs: String, image: String) throws(RunxlError) -> User {
        let users = ImageUserDatabases(
            passwd: databaseBytes(rootfs, "etc/passwd"), group: databaseBytes(rootfs, "etc/group"))
        return try resolveUser(text, users: users, image: image)
    }

    static func resolveUser(_ text: String?, users: ImageUserDatabases, image: String) throws(RunxlError) -> User {
        guard let text, !text.isEmpty else { return User(uid: 0, gid: 0) }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts[0]
        let groupPart = parts.count > 1 ? parts[1] : nil
        let passwd = parseDatabase(users.passwd)
        var uid: UInt32
        var gid: UInt32 = 0
        if let number = UInt32(userPart) {
            uid = number
            if let entry = passwd.first(where: { $0.count > 3 && UInt32($0[2]) == number }), let primary = UInt32(entry[3]) { gid = primary }
        } else {
            guard let entry = passwd.first(where: { $0.count > 3 && $0[0] == userPart }), let number = UInt32(entry[2]),
                let primary = UInt32(entry[3])
            else {
                throw RunxlError(.invalidImage, "image \(image): user '\(userPart)' is not in the image's /etc/passwd")
            }
            uid = number
            gid = primary
        }
        if let groupPart {
            if let number = UInt32(groupPart) {
                gid = number
            } else {
                let groups = parseDatabase(users.group)
                guard let entry = groups.first(where: { $0.count > 2 && $0[0] == groupPart }), let number = UInt32(entry[2]) else {
                    throw RunxlError(.invalidImage, "image \(image): group '\(groupPart)' is not in the image's /etc/group")
                }
                gid = number
            }
        }
        return User(uid: uid, gid: gid)
    }

    /// Colon-separated lines of a file in the rootfs; empty when absent or reached through a
    /// symlink (an image's /etc/passwd must not make runxl read a host file).
    static func readDatabase(_ rootfs: String, _ relative: String) -> [[String]] {
        parseDatabase(databaseBytes(rootfs, relative))
    }

    static func databaseBytes(_ rootfs: String, _ relative: String) -> [UInt8]? {
        guard let path = ImageImporter.fileInside(rootfs, relative) else { return nil }
        return try? FileSystem.read(path)
    }

    static func parseDatabase(_ bytes: [UInt8]?) -> [[String]] {
        guard let bytes else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
