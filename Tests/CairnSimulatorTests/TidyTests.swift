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

    /// "file:line: `pattern` — use …" for every offence.
    static func offences(in text: String, file: String) -> [String] {
        var out = [String]()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("//") { continue }
            for rule in rules where line.contains(rule.pattern) {
                if let unless = rule.unless, line.contains(unless) { continue }
                out.append("\(file):\(n + 1): `\(rule.pattern)` — use \(rule.use)")
            }
        }
        return out
    }
}

@Test func nodeCoreAndSimulatorUseOnlyDeterministicAPIs() throws {
    var offences = [String]()
    var scanned = 0
    for dir in ["Sources/CairnCore", "Simulations"] {
        let root = Package.path(dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }.sorted()
        for f in files {
            let text = try String(contentsOfFile: root + "/" + f, encoding: .utf8)
            offences += Tidy.offences(in: text, file: "\(dir)/\(f)")
            scanned += 1
        }
    }
    #expect(scanned >= 10)
    #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
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
    #expect(found.contains { $0.contains("x.swift:1:") && $0.contains("injected clock") })
    #expect(!found.contains { $0.contains("x.swift:3:") })
}
