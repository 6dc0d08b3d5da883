#if !CAIRN_LIBFUZZER
import CairnFuzz
import Foundation

/// `cairn-fuzz`: the seeded mutation loop over one decoder (no libFuzzer needed), a replay
/// of saved inputs, and the seeds as files for a libFuzzer corpus. Built with
/// `-sanitize=fuzzer -DCAIRN_LIBFUZZER` the same target is a libFuzzer binary instead
/// (`LibFuzzerEntry.swift`); docs/FUZZING.md has both commands.
@main
struct CairnFuzzer {
    static let usage = """
        usage: cairn-fuzz list
               cairn-fuzz run TARGET [--seconds S] [--runs N] [--seed N] [--corpus DIR]... [--artifacts DIR]
               cairn-fuzz replay TARGET FILE...
               cairn-fuzz seeds TARGET DIR
        """

    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let command = args.first else { fail(usage, status: 64) }
        args.removeFirst()
        switch command {
        case "list":
            // Padded to the longest name, never cut: `list` names exactly what `run` takes.
            let width = FuzzTargets.all.map(\.name.count).max() ?? 0
            for t in FuzzTargets.all { print("\(t.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(t.summary)") }
        case "run": run(args)
        case "replay": replay(args)
        case "seeds": seeds(args)
        default: fail(usage, status: 64)
        }
    }

    static func target(_ name: String?) -> FuzzTarget {
        guard let name, let t = FuzzTargets.named(name) else {
            fail("unknown target \(name ?? "(none)"): `cairn-fuzz list` names them", status: 64)
        }
        return t
    }

    static func run(_ arguments: [String]) {
        var args = arguments
        let t = target(args.isEmpty ? nil : args.removeFirst())
        var seconds = 60.0, runs = Int.max, seed = UInt64(1), corpus: [String] = [], artifacts = "."
        while !args.isEmpty {
            let flag = args.removeFirst()
            guard let value = args.isEmpty ? nil : args.removeFirst() else { fail("\(flag) needs a value\n\(usage)", status: 64) }
            switch flag {
            case "--seconds": seconds = Double(value) ?? seconds
            case "--runs": runs = Int(value) ?? runs
            case "--seed": seed = UInt64(value) ?? seed
            case "--corpus": corpus.append(value)
            case "--artifacts": artifacts = value
            default: fail("unknown option \(flag)\n\(usage)", status: 64)
            }
        }
        CrashSaver.install(path: "\(artifacts)/crash-\(t.name)-seed\(seed)")
        var campaign = Campaign(target: t, seed: seed, inputs: corpus.flatMap(readFiles))
        print("cairn-fuzz: \(t.name), seed \(seed), up to \(seconds) s and \(runs == Int.max ? "any number of" : String(runs)) runs")
        campaign.runStartingInputs(CrashSaver.remember)
        let start = Date()
        var lastReport = start
        while campaign.figures.runs < runs, Date().timeIntervalSince(start) < seconds {
            for _ in 0..<256 { campaign.step(CrashSaver.remember) }
            if let v = campaign.figures.violations.first {
                let file = "\(artifacts)/violation-\(t.name)-seed\(seed)-run\(campaign.figures.runs)"
                _ = FileManager.default.createFile(atPath: file, contents: Data(v.input))
                fail("violation: \(v.message)\ninput saved as \(file)", status: 1)
            }
            if Date().timeIntervalSince(lastReport) >= 10 {
                lastReport = Date()
                print("  \(campaign.figures.runs) runs, \(campaign.figures.decoded) decoded")
            }
        }
        print("cairn-fuzz: \(t.name): \(campaign.figures.runs) runs in \(Int(Date().timeIntervalSince(start))) s, \(campaign.figures.decoded) decoded, no crash")
    }

    static func replay(_ arguments: [String]) {
        var args = arguments
        let t = target(args.isEmpty ? nil : args.removeFirst())
        var broken = false
        for file in args {
            for input in readFiles(file) {
                CrashSaver.remember(input)
                let verdict = t.run(input)
                print("\(file): \(verdict)")
                if case .violation = verdict { broken = true }
            }
        }
        if broken { exit(1) }
    }

    static func seeds(_ arguments: [String]) {
        guard arguments.count == 2 else { fail(usage, status: 64) }
        let t = target(arguments[0])
        try? FileManager.default.createDirectory(atPath: arguments[1], withIntermediateDirectories: true)
        for (i, s) in t.seeds().enumerated() {
            _ = FileManager.default.createFile(atPath: "\(arguments[1])/seed-\(i)", contents: Data(s))
        }
    }

    /// A file's bytes, or those of every file in a folder.
    static func readFiles(_ path: String) -> [[UInt8]] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { fail("\(path) does not exist", status: 1) }
        let files = isFolder.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
        return files.compactMap { FileManager.default.contents(atPath: $0).map { [UInt8]($0) } }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("cairn-fuzz: \(message)\n".utf8))
        exit(status)
    }
}
#endif
