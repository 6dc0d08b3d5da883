import CairnSimulator
import CairnTestSupport
import Foundation
import Testing

/// `cairn simulate SWEEP.json --out DIR --timeseries`: each run's samples in
/// DIR/runs/CELL-SEED/timeseries.csv, byte for byte the timeseries.csv of the same run
/// replayed on its own; the same bytes with one thread or two; joined by merge.
@Suite struct SweepTimeseriesTests {
    static func simulate(_ args: [String]) throws -> Package.Run {
        let cairn = try #require(Package.cairnBinary, "the cairn binary was not found; run `swift build --build-tests` first")
        return try Package.run(cairn, ["simulate"] + args + (args.first == "merge" ? [] : ["--no-progress"]))
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func eachRunsTimeseriesIsItsSingleRunsAndMergeJoinsThem() throws {
        let folder = try TemporaryFolder("sweep-ts")
        defer { withExtendedLifetime(folder) {} }
        let file = folder.sub("sweep.json")
        try SweepRunTests.sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let two = try Self.simulate([file, "--seed", "3", "--out", folder.sub("two"), "--timeseries", "--jobs", "2"])
        #expect(two.status == 0, "\(two.stderr)")
        let one = try Self.simulate([file, "--seed", "3", "--out", folder.sub("one"), "--timeseries", "--jobs", "1"])
        #expect(one.status == 0, "\(one.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.sub("two/runs")).sorted()
        #expect(names == ["0-3", "0-4", "1-3", "1-4"])
        for name in names {
            let parts = name.split(separator: "-")
            let (cell, seed) = (String(parts[0]), String(parts[1]))
            let sampled = try Self.text(folder.sub("two/runs/\(name)/timeseries.csv"))
            #expect(sampled.split(separator: "\n").count > 2, "\(name): no samples")
            #expect(try Self.text(folder.sub("one/runs/\(name)/timeseries.csv")) == sampled, "\(name): --jobs 1 and 2 differ")
            // The replay a reader would do: the cell as a plain file, run with the seed.
            let expanded = try Self.simulate([file, "--expand", cell])
            try expanded.stdout.write(toFile: folder.sub("cell\(cell).json"), atomically: true, encoding: .utf8)
            let single = try Self.simulate([folder.sub("cell\(cell).json"), "--seed", seed, "--out", folder.sub("single-\(name)")])
            #expect(single.status == 0, "\(single.stderr)")
            #expect(try Self.text(folder.sub("single-\(name)/timeseries.csv")) == sampled, "\(name) differs from its single run")
        }
        // Slices each write their own runs; merge joins them under the merged directory.
        for i in 0..<2 {
            let slice = try Self.simulate([file, "--seed", "3", "--cell", "\(i)", "--of", "2", "--out", folder.sub("s\(i)"), "--timeseries"])
            #expect(slice.status == 0, "\(slice.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.sub("s1/runs")).sorted() == ["0-4", "1-4"])
        let merged = try Self.simulate(["merge", folder.sub("s0"), folder.sub("s1"), "--out", folder.sub("merged")])
        #expect(merged.status == 0, "\(merged.stderr)")
        for name in names {
            #expect(try Self.text(folder.sub("merged/runs/\(name)/timeseries.csv")) == Self.text(folder.sub("two/runs/\(name)/timeseries.csv")))
        }
    }

    @Test func timeseriesNeedsASweepAndAnOutDirectory() throws {
        let folder = try TemporaryFolder("sweep-ts")
        defer { withExtendedLifetime(folder) {} }
        let file = folder.sub("sweep.json")
        try SweepRunTests.sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let noOut = try Self.simulate([file, "--seed", "3", "--timeseries"])
        #expect(noOut.status == 2)
        #expect(noOut.stderr.contains("--timeseries writes under --out DIR"), "\(noOut.stderr)")
        let plain = try Self.simulate([Package.path("Scenarios/ci/steady.json"), "--seed", "1", "--timeseries"])
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("--timeseries are for sweep files"), "\(plain.stderr)")
    }
}
