import Foundation

/// A sweep's output directory: `sweep.csv` (one row per run), `summary.csv` (one row per
/// cell) and `sweep.json`, the manifest — the sweep file itself, the base seed, the slice
/// and the fingerprint — from which `merge` expands the same sweep again and checks that
/// slices belong together. A whole sweep and the merge of its slices write the same bytes.
public enum SweepOutput {
    public static let format = "cairn-sweep 1"

    public struct Slice: Sendable, Equatable {
        public var index: Int
        public var count: Int
        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }
    }

    /// One directory read back.
    public struct Part: Sendable {
        public var dir: String
        public var plan: SweepPlan
        public var baseSeed: UInt64
        public var fingerprint: String
        public var slice: Slice?
        public var rows: [[String]]
    }

    public static func manifest(_ plan: SweepPlan, baseSeed: UInt64, slice: Slice?, runsHere: Int) -> String {
        let sliceText = slice.map { "{\"index\": \($0.index), \"of\": \($0.count)}" } ?? "null"
        // The base seed as a string: a 64-bit seed does not fit a JSON number (a double).
        return """
            {
              "format": "\(format)",
              "fingerprint": "\(plan.fingerprintHex(baseSeed: baseSeed))",
              "base_seed": "\(baseSeed)",
              "cells": \(plan.cells.count),
              "seeds": \(plan.seeds),
              "runs": \(plan.runCount),
              "slice": \(sliceText),
              "runs_here": \(runsHere),
              "sweep": \(plan.source.compact)
            }

            """
    }

    public static func write(_ plan: SweepPlan, baseSeed: UInt64, slice: Slice?, rows: [[String]], to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try manifest(plan, baseSeed: baseSeed, slice: slice, runsHere: rows.count)
            .write(toFile: dir + "/sweep.json", atomically: true, encoding: .utf8)
        try SweepRows.csv(plan, rows: rows).write(toFile: dir + "/sweep.csv", atomically: true, encoding: .utf8)
        try SweepSummary.csv(plan, rows: rows).write(toFile: dir + "/summary.csv", atomically: true, encoding: .utf8)
    }

    static func text(_ path: String) throws(SweepError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SweepError(path: path, message: "cannot read it (not a sweep output directory? it holds sweep.json and sweep.csv)")
        }
        return text
    }

    /// Reads `dir`, checking its manifest against the sweep it names and every row against
    /// the run it claims to be.
    public static func read(_ dir: String) throws(SweepError) -> Part {
        let manifestPath = dir + "/sweep.json"
        let json: JSONValue
        do { json = try JSONValue.parse(text(manifestPath)) } catch let e as SweepError { throw e } catch {
            throw SweepError(path: manifestPath, message: "\(error)")
        }
        guard case .object(let m) = json else { throw SweepError(path: manifestPath, message: "not a sweep manifest") }
        func member(_ key: String) -> JSONValue? { m.first { $0.0 == key }?.1 }
        guard case .string(format)? = member("format") else {
            throw SweepError(path: manifestPath + " $.format", message: "not \"\(format)\" (written by another version of cairn?)")
        }
        guard case .string(let fingerprint)? = member("fingerprint"), case .string(let seedText)? = member("base_seed"),
              let baseSeed = UInt64(seedText), let source = member("sweep")
        else { throw SweepError(path: manifestPath, message: "needs fingerprint, base_seed and sweep") }
        let plan: SweepPlan
        do { plan = try SweepPlan(json: source) } catch {
            throw SweepError(path: manifestPath + " $.sweep", message: "\(error)")
        }
        guard plan.fingerprintHex(baseSeed: baseSeed) == fingerprint else {
            throw SweepError(path: manifestPath, message: "the fingerprint does not match the sweep and seed it holds (edited?)")
        }
        var slice: Slice? = nil
        if case .object(let s)? = member("slice") {
            guard case .number(let i)? = s.first(where: { $0.0 == "index" })?.1, case .number(let n)? = s.first(where: { $0.0 == "of" })?.1,
                  n == n.rounded(), i == i.rounded(), n >= 1, n <= 1e9, i >= 0, i < n
            else { throw SweepError(path: manifestPath + " $.slice", message: "expected {\"index\": I, \"of\": N} with 0 <= I < N") }
            slice = Slice(index: Int(i), count: Int(n))
        }
        let csvPath = dir + "/sweep.csv"
        var records = try CSV.parse(text(csvPath), file: csvPath)
        let header = SweepRows.header(plan)
        guard records.first == header else {
            throw SweepError(path: csvPath + ":1", message: "the header is not the one this sweep writes (another version of cairn?)")
        }
        records.removeFirst()
        for (i, row) in records.enumerated() {
            let at = "\(csvPath):\(i + 2)"
            guard row.count == header.count else { throw SweepError(path: at, message: "\(row.count) fields, the header has \(header.count)") }
            guard let cell = Int(row[0]), let replicate = Int(row[1]), (0..<plan.cells.count).contains(cell),
                  (0..<plan.seeds).contains(replicate)
            else { throw SweepError(path: at, message: "cell \(row[0]) replicate \(row[1]) is not a run of this sweep") }
            guard row[2] == "\(SweepPlan.seed(base: baseSeed, replicate: replicate))" else {
                throw SweepError(path: at, message: "seed \(row[2]) is not replicate \(replicate)'s seed")
            }
        }
        return Part(dir: dir, plan: plan, baseSeed: baseSeed, fingerprint: fingerprint, slice: slice, rows: records)
    }

    /// The merged rows of `parts`, every run exactly once. Refuses parts of different sweeps
    /// (fingerprints), runs that appear twice with different results, and missing runs (naming
    /// them and the slices to rerun). `notes` lists identical duplicates, which are kept once.
    public static func merge(_ parts: [Part]) throws(SweepError) -> (rows: [[String]], notes: [String]) {
        guard let first = parts.first else { throw SweepError(path: "merge", message: "no directories given") }
        let fingerprints = Set(parts.map(\.fingerprint))
        guard fingerprints.count == 1 else {
            let list = parts.map { "\($0.dir): \($0.plan.name) seed \($0.baseSeed) fingerprint \($0.fingerprint.prefix(16))" }
            throw SweepError(path: "merge", message: "these are not slices of one sweep (\(fingerprints.count) fingerprints):\n  " + list.joined(separator: "\n  "))
        }
        let plan = first.plan
        var byRun = [Int: (row: [String], dir: String)]()
        var notes = [String]()
        for part in parts {
            for row in part.rows {
                let j = Int(row[0])! * plan.seeds + Int(row[1])!
                if let seen = byRun[j] {
                    let hash = SweepRows.header(plan).firstIndex(of: "trace_hash")!
                    guard seen.row == row else {
                        throw SweepError(path: "merge", message: "run \(j) (cell \(row[0]), replicate \(row[1])) differs between \(seen.dir) and \(part.dir) (trace hash \(seen.row[hash].prefix(16)) vs \(row[hash].prefix(16))): the same run must give the same result")
                    }
                    notes.append("run \(j) (cell \(row[0]), replicate \(row[1])) is in both \(seen.dir) and \(part.dir), identical: kept once")
                    continue
                }
                byRun[j] = (row, part.dir)
            }
        }
        let missing = (0..<plan.runCount).filter { byRun[$0] == nil }
        if !missing.isEmpty {
            let shown = missing.prefix(10).map { "run \($0) (cell \(plan.run($0).cell), replicate \(plan.run($0).replicate))" }
            var message = "\(missing.count) of \(plan.runCount) runs missing: " + shown.joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
            let counts = Set(parts.compactMap { $0.slice?.count })
            if counts.count == 1, let n = counts.first {
                let slices = Set(missing.map { $0 % n }).sorted()
                message += "; rerun " + slices.prefix(20).map { "--cell \($0) --of \(n)" }.joined(separator: ", ") + (slices.count > 20 ? ", …" : "")
            }
            throw SweepError(path: "merge", message: message)
        }
        return ((0..<plan.runCount).map { byRun[$0]!.row }, notes)
    }
}
