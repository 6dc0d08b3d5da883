import CairnSimulator
import CairnTestSupport
import Foundation
import Testing

/// `cairn simulate SWEEP.json` end to end, on a tiny sweep (2 cells × 2 seeds, 20 nodes,
/// one day): its rows are exactly the rows of the equivalent single runs, replayed from
/// `--expand`; the bytes do not depend on the number of threads; slices merge to the whole;
/// merge refuses mixed sweeps and names missing runs.
@Suite struct SweepRunTests {
    static let sweep = #"""
        {
          "name": "sweep-test",
          "nodes": 20,
          "duration_days": 1,
          "sample_interval_hours": 6,
          "offered_gib": 20,
          "backup_gib": {"dist": "uniform", "min": 0.5, "max": 1.5},
          "pack_mib": 256,
          "signatures": "digest",
          "restore_samples": 4,
          "restore_patience_hours": 4,
          "churn": {"online_hours": {"dist": "exponential", "mean": 20}, "offline_hours": {"dist": "exponential", "mean": 2}},
          "adversaries": {"droppers": 0.1},
          "protocol": {"challenge_interval_hours": 4, "uptime_window_hours": 24},
          "sweep": {"code": [[2, 4], [3, 6]], "seeds": 2}
        }
        """#

    static func cairn() throws -> String {
        try #require(Package.cairnBinary, "the cairn binary was not found; run `swift build --build-tests` first")
    }

    static func simulate(_ args: [String]) throws -> Package.Run {
        try Package.run(cairn(), ["simulate"] + args + (args.first == "merge" ? [] : ["--no-progress"]))
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func rowsAreTheSingleRunsReplayedFromExpand() throws {
        let folder = try TemporaryFolder("sweep")
        defer { withExtendedLifetime(folder) {} }
        let file = folder.sub("sweep.json")
        try Self.sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try Self.simulate([file, "--seed", "5", "--out", folder.sub("out")])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasPrefix("SEED=5\n"))
        let plan = try SweepPlan.load(path: file)
        let records = try CSV.parse(Self.text(folder.sub("out/sweep.csv")), file: "sweep.csv")
        #expect(records.first == SweepRows.header(plan))
        let rows = Array(records.dropFirst())
        #expect(rows.count == 4)
        #expect(rows.map { "\($0[0])/\($0[1])/\($0[2])" } == ["0/0/5", "0/1/6", "1/0/5", "1/1/6"])
        var hashes = Set<String>()
        for (j, row) in rows.enumerated() {
            let (cell, replicate) = plan.run(j)
            // The replay a reader would do: the cell as a plain file, then an ordinary run.
            let expanded = try Self.simulate([file, "--expand", "\(cell)"])
            #expect(expanded.status == 0, "\(expanded.stderr)")
            let scenario = try Scenario.parse(expanded.stdout)
            #expect(scenario.k == [2, 3][cell])
            let single = try Simulation(scenario: scenario, seed: SweepPlan.seed(base: 5, replicate: replicate)).run()
            #expect(row == SweepRows.row(plan, run: j, result: single), "run \(j) differs from its single run")
            #expect(run.stdout.contains("run \(j) cell \(cell) replicate \(replicate) seed \(single.seed): packs_lost \(single.packsLost) of \(single.packsTotal) trace-hash \(single.traceHash)"))
            hashes.insert(single.traceHash)
        }
        #expect(hashes.count == 4, "different cells or seeds gave the same trace")
        // The summary has a row per cell with the code's overhead and the pooled pack count.
        let summary = try CSV.parse(Self.text(folder.sub("out/summary.csv")), file: "summary.csv")
        #expect(summary.first == SweepSummary.header(plan))
        #expect(summary.count == 3)
        let col = { (name: String) in SweepSummary.header(plan).firstIndex(of: name)! }
        #expect(summary[1][col("storage_overhead_nk")] == "2" && summary[2][col("k")] == "3")
        #expect(summary[1][col("packs")] == "\(Int(rows[0][SweepRows.header(plan).firstIndex(of: "packs_total")!])! + Int(rows[1][SweepRows.header(plan).firstIndex(of: "packs_total")!])!)")
        #expect(summary[1][col("dropper_total")] == "4")
    }

    @Test func slicesMergeToTheWholeAndMergeRefusesMixedOrIncompleteSets() throws {
        let folder = try TemporaryFolder("sweep")
        defer { withExtendedLifetime(folder) {} }
        let file = folder.sub("sweep.json")
        try Self.sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let whole = try Self.simulate([file, "--seed", "9", "--out", folder.sub("whole"), "--jobs", "2"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let serial = try Self.simulate([file, "--seed", "9", "--out", folder.sub("serial"), "--jobs", "1"])
        #expect(serial.status == 0, "\(serial.stderr)")
        for i in 0..<3 {
            let slice = try Self.simulate([file, "--seed", "9", "--cell", "\(i)", "--of", "3", "--out", folder.sub("slice\(i)")])
            #expect(slice.status == 0, "\(slice.stderr)")
        }
        let merged = try Self.simulate(["merge", folder.sub("slice2"), folder.sub("slice0"), folder.sub("slice1"), "--out", folder.sub("merged")])
        #expect(merged.status == 0, "\(merged.stderr)")
        for name in ["sweep.csv", "summary.csv", "sweep.json"] {
            let reference = try Self.text(folder.sub("whole/\(name)"))
            #expect(try Self.text(folder.sub("serial/\(name)")) == reference, "\(name): --jobs 1 and 2 differ")
            #expect(try Self.text(folder.sub("merged/\(name)")) == reference, "\(name): merged slices differ from the whole")
        }
        #expect(try Self.text(folder.sub("slice1/sweep.csv")).split(separator: "\n").count == 1 + 1)

        let missing = try Self.simulate(["merge", folder.sub("slice0"), folder.sub("slice1"), "--out", folder.sub("m2")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("1 of 4 runs missing: run 2 (cell 1, replicate 0)") && missing.stderr.contains("--cell 2 --of 3"),
                "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.sub("m2/sweep.csv")))

        let reseeded = try Self.simulate([file, "--seed", "10", "--cell", "2", "--of", "3", "--out", folder.sub("other")])
        #expect(reseeded.status == 0)
        let mixed = try Self.simulate(["merge", folder.sub("slice0"), folder.sub("slice1"), folder.sub("other"), "--out", folder.sub("m3")])
        #expect(mixed.status == 2)
        #expect(mixed.stderr.contains("not slices of one sweep (2 fingerprints)") && mixed.stderr.contains("seed 10"), "\(mixed.stderr)")

        // A run present twice with different results (an edited copy of slice 0) is refused.
        let edited = folder.sub("edited")
        try FileManager.default.createDirectory(atPath: edited, withIntermediateDirectories: true)
        try Self.text(folder.sub("slice0/sweep.json")).write(toFile: edited + "/sweep.json", atomically: true, encoding: .utf8)
        let plan = try SweepPlan.load(path: file)
        let hash = SweepRows.header(plan).firstIndex(of: "trace_hash")!
        var records = try CSV.parse(Self.text(folder.sub("slice0/sweep.csv")), file: "sweep.csv")
        records[1][hash] = String(repeating: "0", count: 64)
        try records.map(CSV.line).joined().write(toFile: edited + "/sweep.csv", atomically: true, encoding: .utf8)
        let differing = try Self.simulate(["merge", folder.sub("slice0"), edited, folder.sub("slice1"), folder.sub("slice2"), "--out", folder.sub("m4")])
        #expect(differing.status == 2)
        #expect(differing.stderr.contains("differs between") && differing.stderr.contains("vs 0000000000000000"), "\(differing.stderr)")
        // The same slice given twice is kept once, with a note.
        let twice = try Self.simulate(["merge", folder.sub("slice0"), folder.sub("slice0"), folder.sub("slice1"), folder.sub("slice2"), "--out", folder.sub("m5")])
        #expect(twice.status == 0 && twice.stderr.contains("identical: kept once"), "\(twice.stderr)")
        #expect(try Self.text(folder.sub("m5/sweep.csv")) == Self.text(folder.sub("whole/sweep.csv")))
    }

    @Test func sweepOptionsAreRefusedOnPlainScenariosAndBadSlices() throws {
        let folder = try TemporaryFolder("sweep")
        defer { withExtendedLifetime(folder) {} }
        let file = folder.sub("sweep.json")
        try Self.sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let plain = try Self.simulate([Package.path("Scenarios/ci/steady.json"), "--expand", "0"])
        #expect(plain.status == 2 && plain.stderr.contains("are for sweep files"), "\(plain.stderr)")
        let noOf = try Self.simulate([file, "--cell", "1"])
        #expect(noOf.status == 2 && noOf.stderr.contains("--cell I --of N together"), "\(noOf.stderr)")
        let outside = try Self.simulate([file, "--cell", "3", "--of", "3", "--out", folder.sub("o")])
        #expect(outside.status == 2 && outside.stderr.contains("0 <= I < N"), "\(outside.stderr)")
        let nowhere = try Self.simulate([file, "--cell", "0", "--of", "3"])
        #expect(nowhere.status == 2 && nowhere.stderr.contains("only of use with --out"), "\(nowhere.stderr)")
        let expand = try Self.simulate([file, "--expand", "2"])
        #expect(expand.status == 2 && expand.stderr.contains("cells 0...1"), "\(expand.stderr)")
        let invalid = Self.sweep.replacingOccurrences(of: "[3, 6]", with: "[3, 3]")
        try invalid.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try Self.simulate([file, "--seed", "1", "--out", folder.sub("out")])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("cell 1 of 2 (protocol.k=3, protocol.n=3): $.protocol.n"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("run 0"), "a run started before the sweep was checked")
    }
}
