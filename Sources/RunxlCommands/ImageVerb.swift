import ImageStore
import Runtime
import RunxlBase

/// One action of `runxl image`, each in its own file (ImagePull.swift, ImageImport.swift, ...).
protocol ImageAction: SendableMetatype {
    static var name: String { get }
    static var usage: String { get }
    static var flags: [FlagSpec] { get }
    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError)
    func run() throws(RunxlError) -> Int32
}

/// An action's entry in the table: its declarations and a constructor. Plain closures rather
/// than `any ImageAction.Type`, whose typed-throwing init crashes Swift 6.3's SILGen.
struct ImageActionEntry: Sendable {
    let name: String
    let usage: String
    let flags: [FlagSpec]
    let make: @Sendable (ParsedArguments, GlobalOptions) throws(RunxlError) -> any ImageAction

    init<Action: ImageAction>(_ type: Action.Type) {
        name = type.name
        usage = type.usage
        flags = type.flags
        make = { (arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) -> any ImageAction in
            try Action(arguments, global: global)
        }
    }
}

/// `runxl image ACTION ...`: the image store (pull, import, ls, inspect, rm, unpack) and the
/// conversion of a bundle or a stored image into a bootable guest (convert).
///
/// The CLI parser knows verbs, not sub-verbs, so `image` declares the union of its actions'
/// flags and refuses, after parsing, a flag the chosen action does not take.
struct ImageVerb: Verb {
    static let actions: [ImageActionEntry] = [
        ImageActionEntry(ImagePull.self), ImageActionEntry(ImageImport.self), ImageActionEntry(ImageList.self),
        ImageActionEntry(ImageInspect.self), ImageActionEntry(ImageRemove.self), ImageActionEntry(ImageUnpack.self),
        ImageActionEntry(ImageConvert.self),
    ]

    static let storeFlag = FlagSpec("store", value: "DIR", help: "image store directory (default /var/lib/runxl/images)")

    static let spec: VerbSpec = {
        var flags: [FlagSpec] = []
        for action in actions {
            for flag in action.flags where !flags.contains(where: { $0.long == flag.long }) { flags.append(flag) }
        }
        let usage = actions.map { "\($0.name) \($0.usage)" }.joined(separator: "\n       runxl image ")
        return VerbSpec(name: "image", summary: "images: pull, import, ls, inspect, rm, unpack, convert", usage: usage, flags: flags)
    }()

    let action: any ImageAction

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        let names = Self.actions.map(\.name).joined(separator: ", ")
        let name = try arguments.positional(0, "action (\(names))")
        guard let entry = Self.actions.first(where: { $0.name == name }) else {
            throw RunxlError(.usage, "image: unknown action '\(name)' (\(names))")
        }
        let taken = Set(entry.flags.map(\.long))
        for flag in Self.spec.flags where !taken.contains(flag.long) && (arguments.isSet(flag.long) || arguments.value(flag.long) != nil) {
            throw RunxlError(.usage, "image \(name): --\(flag.long) does not apply (usage: runxl image \(name) \(entry.usage))")
        }
        var rest = arguments
        rest.positionals.removeFirst()
        action = try entry.make(rest, global)
    }

    func run() throws(RunxlError) -> Int32 { try action.run() }

    /// `--store` of the action, else the global one, else the default.
    static func store(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) -> ContentStore {
        let root = arguments.value("store") ?? global.store ?? ContentStore.defaultRoot
        return try ContentStore(root: ContainerEngine.absolutePath(root))
    }
}
