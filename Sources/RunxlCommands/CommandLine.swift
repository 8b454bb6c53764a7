import RunxlBase

/// runxl's own command-line parser: a table of verbs (one file each) over one small parser.
///
/// Why not swift-argument-parser: runc-style runtimes are started thousands of times (podman
/// and containerd call `state` constantly) and the whole-process time is what users feel.
/// ArgumentParser discovers commands through reflection and dynamic casts, which cost ~20M
/// instructions per start in a static binary, 3x runc's entire run. This parser does a single
/// pass over argv with no reflection. It follows runc's (urfave/cli) conventions: global
/// flags before the verb, `--flag value`, `--flag=value`, `-f value`, single-dash long names
/// (`-bundle`), `--` to end flags.
struct FlagSpec: Sendable {
    var long: String
    var short: Character?
    /// nil for a boolean flag; otherwise the value's placeholder in help.
    var value: String?
    var help: String
    var hidden = false

    init(_ long: String, short: Character? = nil, value: String? = nil, help: String, hidden: Bool = false) {
        self.long = long
        self.short = short
        self.value = value
        self.help = help
        self.hidden = hidden
    }
}

/// What a verb declares: its flags and the names of its positional arguments.
struct VerbSpec: Sendable {
    var name: String
    var summary: String
    var usage: String
    var flags: [FlagSpec]
    var hidden = false
    /// Everything after the first positional is positional too (`exec ID sh -c ...`: the
    /// command's own flags are not runxl's), as urfave/cli parses runc's exec.
    var flagsEndAtFirstPositional = false
}

/// The flags and positionals of one parsed verb.
struct ParsedArguments {
    private(set) var values: [String: String] = [:]
    /// Every value of a flag given more than once (`exec -e A=1 -e B=2`), in order.
    private(set) var repeatedValues: [String: [String]] = [:]
    private(set) var switches: Set<String> = []
    var positionals: [String] = []
    /// What came after a literal `--`.
    var passthrough: [String] = []
    let verb: String

    init(verb: String) { self.verb = verb }

    func value(_ long: String) -> String? { values[long] }
    func isSet(_ long: String) -> Bool { switches.contains(long) }

    /// The `index`th positional argument, or a usage error naming what is missing.
    func positional(_ index: Int, _ name: String) throws(RunxlError) -> String {
        guard index < positionals.count else {
            throw RunxlError(.usage, "\(verb): missing \(name) (see runxl \(verb) --help)")
        }
        return positionals[index]
    }

    func integer(_ long: String, default fallback: Int) throws(RunxlError) -> Int {
        guard let text = values[long] else { return fallback }
        guard let number = Int(text) else {
            throw RunxlError(.usage, "\(verb): --\(long) takes a number, not '\(text)'")
        }
        return number
    }

    /// Fails on positionals beyond what the verb takes, as a typo would otherwise be ignored.
    func expectPositionals(atMost count: Int) throws(RunxlError) {
        if positionals.count > count {
            throw RunxlError(.usage, "\(verb): unexpected argument '\(positionals[count])'")
        }
    }

    mutating func set(_ long: String, _ value: String?) {
        if let value {
            values[long] = value
            repeatedValues[long, default: []].append(value)
        } else {
            switches.insert(long)
        }
    }

    func allValues(_ long: String) -> [String] { repeatedValues[long] ?? [] }
}

enum ArgumentScanner {
    /// Parses `arguments` against `flags`, stopping at the first positional when
    /// `stopAtPositional` (the global flags end at the verb).
    static func parse(
        _ arguments: ArraySlice<String>, flags: [FlagSpec], verb: String, stopAtPositional: Bool,
        flagsEndAtFirstPositional: Bool = false
    ) throws(RunxlError) -> (ParsedArguments, ArraySlice<String>) {
        var parsed = ParsedArguments(verb: verb)
        var rest = arguments
        while let argument = rest.first {
            rest.removeFirst()
            if argument == "--" {
                parsed.passthrough = Array(rest)
                rest = []
                break
            }
            guard argument.hasPrefix("-"), argument.count > 1 else {
                if stopAtPositional { return (parsed, [argument] + rest) }
                parsed.positionals.append(argument)
                if flagsEndAtFirstPositional {
                    parsed.positionals += rest
                    rest = []
                    break
                }
                continue
            }
            var name = String(argument.drop { $0 == "-" })
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            let isShort = !argument.hasPrefix("--") && name.count == 1
            guard let flag = flags.first(where: { isShort ? $0.short == name.first : $0.long == name }) else {
                throw RunxlError(.usage, "\(verb.isEmpty ? "runxl" : verb): unknown flag '\(argument)' (see --help)")
            }
            if flag.value == nil {
                if let inlineValue {
                    switch inlineValue {
                    case "true": parsed.set(flag.long, nil)
                    case "false": break
                    default: throw RunxlError(.usage, "\(verb): --\(flag.long) takes no value")
                    }
                } else {
                    parsed.set(flag.long, nil)
                }
                continue
            }
            if let inlineValue {
                parsed.set(flag.long, inlineValue)
            } else if let next = rest.first {
                rest.removeFirst()
                parsed.set(flag.long, next)
            } else {
                throw RunxlError(.usage, "\(verb.isEmpty ? "runxl" : verb): --\(flag.long) needs a value")
            }
        }
        return (parsed, rest)
    }
}

enum HelpText {
    static func render(_ spec: VerbSpec) -> String {
        var text = "\(spec.summary)\n\nUsage: runxl \(spec.name) \(spec.usage)\n"
        let visible = spec.flags.filter { !$0.hidden }
        if !visible.isEmpty {
            text += "\nFlags:\n"
            for flag in visible {
                var names = flag.short.map { "-\($0), " } ?? "    "
                names += "--\(flag.long)" + (flag.value.map { " \($0)" } ?? "")
                text += "  " + names.padding(to: 30) + flag.help + "\n"
            }
        }
        return text
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
