import ArgumentParser
import CairnData
import Foundation

/// A share of a pack given as `10%` or `0.1`.
struct Share: ExpressibleByArgument {
    let fraction: Double

    init?(argument: String) {
        let percent = argument.hasSuffix("%")
        guard let v = Double(percent ? String(argument.dropLast()) : argument), v.isFinite, v >= 0 else { return nil }
        let f = percent || v > 1 ? v / 100 : v
        guard f <= 1 else { return nil }
        fraction = f
    }

    var defaultValueDescription: String { "\(Int((fraction * 100).rounded()))%" }
}

/// `cairn prune [--max-unused 10%] [--dry-run]`
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the data no snapshot uses any more and give the space back on every target.",
        discussion: """
            Packs no snapshot uses are deleted; packs more than --max-unused unused are
            repacked (their used chunks copied into new packs) and deleted; shards a killed
            backup left behind are deleted too. Each target's store is then compacted, so
            its file shrinks; a target another command (a restore, `snapshots`) still has
            open after CAIRN_LOCK_WAIT seconds (30) is compacted by the next prune instead,
            with a warning. Needs every target. Safe to kill at any point: run it again
            to finish. Exit status: 0 done, 1 error (nothing kept was removed).
            """)

    @OptionGroup var options: DataDirOptions

    @Option(name: .customLong("max-unused"), help: "Repack a pack when more than this share of it is unused (default 10%).")
    var maxUnused = Share(argument: "10%")!

    @Flag(name: .customLong("dry-run"), help: "Only say what would be removed and freed.")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let repo = try options.repository()
        let s = try cairnRun { () throws(DataError) in try repo.prune(PruneOptions(maxUnused: maxUnused.fraction, dryRun: dryRun)) }
        if json {
            try Terminal.printJSON(s)
        } else {
            PruneReport.print(s)
        }
    }
}

enum PruneReport {
    static func print(_ s: PruneSummary) {
        let would = s.dryRun ? "would " : ""
        Swift.print("\(s.snapshots) snapshots use \(s.packs) packs; \(Format.bytes(s.bytesUnused)) of them is unused")
        Swift.print("  \(would)remove  \(s.packsRemoved) unused packs, \(s.packsOrphaned) packs no root record names")
        Swift.print("  \(would)repack  \(s.packsRepacked) packs: \(s.chunksMoved) chunks (\(Format.bytes(s.bytesMoved))) into \(s.dryRun ? "new" : String(s.packsWritten) + " new") packs, \(s.treesRewritten) trees stored again")
        for t in s.targets {
            Swift.print("  \(t.path): \(t.shardsRemoved) shards, \(Format.bytes(t.bytesBefore)) → \(Format.bytes(t.bytesAfter)) (\(s.dryRun ? "about " : "")\(Format.bytes(t.bytesFreed)) freed\(t.compactionDeferred ? "; not compacted yet, the store was in use" : ""))")
        }
        for w in s.warnings { Terminal.warn(w) }
        Swift.print("\(s.dryRun ? "would free about" : "freed") \(Format.bytes(s.bytesFreed)) in total\(s.dryRun ? "" : " in \(Format.duration(s.durationSeconds))")")
    }
}
