import Foundation
import Testing

/// Scans the node core and the simulator for APIs that break determinism, naming the
/// replacement for each. Comment lines are skipped.
enum Tidy {
    struct Rule {
        let pattern: String
        let unless: String?
        let use: String
    }

    static let rules: [Rule] = [
        Rule(pattern: "Date()", unless: nil, use: "the injected clock (NodeClock, or `now:` passed to the state machine)"),
        Rule(pattern: "ContinuousClock", unless: nil, use: "the injected clock (NodeClock / the simulator's virtual time)"),
        Rule(pattern: "SuspendingClock", unless: nil, use: "the injected clock"),
        Rule(pattern: "Task.detached", unless: nil, use: "tasks started through the environment"),
        Rule(pattern: "DispatchQueue", unless: nil, use: "the owning actor or the simulator's event queue"),
        Rule(pattern: ".random(in:", unless: "using:", use: "Xoshiro256.bounded / integer(in:) from the injected generator"),
        Rule(pattern: "shuffled()", unless: nil, use: "Xoshiro256.shuffle"),
        Rule(pattern: ".shuffle()", unless: nil, use: "Xoshiro256.shuffle"),
        Rule(pattern: "SystemRandomNumberGenerator", unless: nil, use: "the injected Xoshiro256 (seeded per node)"),
        Rule(pattern: "print(", unless: nil, use: "a returned Note (metrics) or a Logger"),
        Rule(pattern: "Task.sleep", unless: nil, use: "a returned .setTimer action"),
        Rule(pattern: "Thread(", unless: nil, use: "no threads of our own"),
    ]

    /// The node core also does no I/O and starts no tasks: its shells (the actors, the
    /// simulator) do.
    static let coreRules: [Rule] = [
        Rule(pattern: "import Foundation", unless: nil, use: "the standard library: the core does no I/O"),
        Rule(pattern: "Task {", unless: nil, use: "returned actions: the environment starts tasks"),
        Rule(pattern: "Task(", unless: nil, use: "returned actions: the environment starts tasks"),
    ]

    /// "file:line: `pattern` — use …" for every offence.
    static func offences(in text: String, file: String, core: Bool = false) -> [String] {
        var out = [String]()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("//") { continue }
            for rule in rules + (core ? coreRules : []) where line.contains(rule.pattern) {
                if let unless = rule.unless, line.contains(unless) { continue }
                out.append("\(file):\(n + 1): `\(rule.pattern)` — use \(rule.use)")
            }
        }
        return out
    }

    /// Swift files below `dir` (relative to the package), at any depth, sorted.
    static func swiftFiles(under dir: String) -> [String] {
        let root = Package.path(dir)
        var out = [String]()
        if let walk = FileManager.default.enumerator(atPath: root) {
            while let f = walk.nextObject() as? String, out.count < 10_000 {
                if f.hasSuffix(".swift") { out.append(dir + "/" + f) }
            }
        }
        return out.sorted()
    }

    /// Top-level public type names defined in more than one module, with where.
    static func publicNamesDefinedTwice(_ files: [(module: String, text: String)]) -> [String] {
        var modules = [String: Set<String>]()
        for (module, text) in files {
            for raw in text.split(separator: "\n") where raw.hasPrefix("public ") {
                let words = raw.split(separator: " ").map(String.init)
                guard let kind = words.firstIndex(where: { ["struct", "enum", "class", "protocol", "typealias", "actor"].contains($0) }),
                      kind + 1 < words.count
                else { continue }
                let name = String(words[kind + 1].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                modules[name, default: []].insert(module)
            }
        }
        return modules.keys.sorted().compactMap { name in
            let m = modules[name]!
            return m.count > 1 ? "\(name): \(m.sorted().joined(separator: ", "))" : nil
        }
    }
}

@Test func nodeCoreAndSimulatorUseOnlyDeterministicAPIs() throws {
    var offences = [String]()
    var scanned = 0
    for dir in ["Sources/CairnCore", "Simulations"] {
        for file in Tidy.swiftFiles(under: dir) {
            let text = try String(contentsOfFile: Package.path(file), encoding: .utf8)
            offences += Tidy.offences(in: text, file: file, core: dir == "Sources/CairnCore")
            scanned += 1
        }
    }
    #expect(scanned >= 20)
    #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
}

/// One set of shared truths: a public type name means one thing across the modules.
@Test func noPublicTypeNameIsDefinedInTwoModules() throws {
    var files = [(module: String, text: String)]()
    for file in Tidy.swiftFiles(under: "Sources") + Tidy.swiftFiles(under: "Simulations") {
        let parts = file.split(separator: "/")
        let module = parts[0] == "Sources" ? String(parts[1]) : "CairnSimulator"
        files.append((module, try String(contentsOfFile: Package.path(file), encoding: .utf8)))
    }
    #expect(files.count >= 60)
    #expect(Tidy.publicNamesDefinedTwice(files).isEmpty, "\(Tidy.publicNamesDefinedTwice(files))")
    // The check itself finds a name planted in two modules, and not one repeated in one.
    let planted = Tidy.publicNamesDefinedTwice([
        ("A", "public struct VolumeID: Hashable {\npublic enum Limits {"), ("B", "public typealias VolumeID = UInt64"),
        ("A", "public enum Limits {}"),
    ])
    #expect(planted == ["VolumeID: A, B"])
}

@Test func tidyCatchesEachBannedAPI() {
    let bad = """
        let t = Date()
        let r = Int.random(in: 0..<3)
        let ok = Int.random(in: 0..<3, using: &g)
        let s = xs.shuffled()
        print("x")
        try await Task.sleep(for: .seconds(1))
        // print( in a comment is fine
        """
    let found = Tidy.offences(in: bad, file: "x.swift")
    #expect(found.count == 5)
    let core = Tidy.offences(in: "import Foundation\nTask { await f() }\nlet t = Task(priority: .low) {}", file: "c.swift", core: true)
    #expect(core.count == 3)
    #expect(Tidy.offences(in: "import Foundation", file: "s.swift").isEmpty)
    #expect(found.contains { $0.contains("x.swift:1:") && $0.contains("injected clock") })
    #expect(!found.contains { $0.contains("x.swift:3:") })
}
