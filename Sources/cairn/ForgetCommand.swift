import ArgumentParser
import CairnData
import Foundation

/// A `--keep-*` count: a whole number, or `unlimited` (also `-1`) for every bucket.
struct KeepCount: ExpressibleByArgument {
    let value: Int

    init?(argument: String) {
        if argument == "unlimited" || argument == "-1" {
            value = RetentionPolicy.unlimited
        } else if let n = Int(argument), n >= 0 {
            value = n
        } else {
            return nil
        }
    }
}

/// `cairn forget --keep-… [--dry-run]`, or `cairn forget ID… [--dry-run]`
struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove snapshots from the list by a retention policy (restic's --keep-* rules), or by id.",
        discussion: """
            `cairn forget ID...` removes exactly the snapshots named (ids or unique prefixes of
            them, as `cairn snapshots` lists them, or `latest`); an unknown or ambiguous one is
            an error naming it, and then nothing is removed. Ids and --keep-* rules do not mix.

            Snapshots are grouped by host and paths (--group-by) and each group is walked
            newest first. --keep-last N keeps the N newest; --keep-hourly/-daily/-weekly/
            -monthly/-yearly N keep the newest snapshot of each of the last N hours, days,
            ISO weeks, months or years (local time, TZ) that have one, and the group's oldest
            snapshot too while they have counts left; --keep-within 1y5m
            keeps every snapshot made less than that (y, m, d, h) before the group's newest.
            A snapshot any rule keeps is kept; the table says which rules did. Counts take
            `unlimited`. Forgotten snapshots' data stays on the targets until `cairn prune`
            (or --prune). Exit status: 0 done (or nothing to forget), 1 error.
            """)

    @OptionGroup var options: DataDirOptions

    @Argument(help: "Snapshots to remove (ids or unique prefixes), instead of a policy.")
    var ids: [String] = []

    @Option(name: .customLong("keep-last"), help: "Keep the N newest snapshots.")
    var last: KeepCount?
    @Option(name: .customLong("keep-hourly"), help: "Keep the newest snapshot of each of the last N hours that have one.")
    var hourly: KeepCount?
    @Option(name: .customLong("keep-daily"), help: "Keep the newest snapshot of each of the last N days that have one.")
    var daily: KeepCount?
    @Option(name: .customLong("keep-weekly"), help: "Keep the newest snapshot of each of the last N weeks that have one.")
    var weekly: KeepCount?
    @Option(name: .customLong("keep-monthly"), help: "Keep the newest snapshot of each of the last N months that have one.")
    var monthly: KeepCount?
    @Option(name: .customLong("keep-yearly"), help: "Keep the newest snapshot of each of the last N years that have one.")
    var yearly: KeepCount?
    @Option(name: .customLong("keep-within"), help: "Keep every snapshot made within this span (like 2d, 12h, 1y5m) of the newest.")
    var within: String?

    @Option(name: .customLong("group-by"), help: "Apply the policy per group of snapshots with the same 'host', 'paths', both ('host,paths', the default) or none ('').")
    var groupBy = "host,paths"

    @Flag(name: .customLong("dry-run"), help: "Only say what would be kept and removed.")
    var dryRun = false

    @Flag(help: "Then run `cairn prune` to give the space back.")
    var prune = false

    @Flag(help: "Print JSON.")
    var json = false

    func policy() throws -> RetentionPolicy {
        var p = RetentionPolicy(last: last?.value ?? 0, hourly: hourly?.value ?? 0, daily: daily?.value ?? 0,
                                weekly: weekly?.value ?? 0, monthly: monthly?.value ?? 0, yearly: yearly?.value ?? 0)
        if let within {
            do { p.within = try RetentionDuration(parsing: within) } catch { throw ValidationError(error.message) }
        }
        return p
    }

    func grouping() throws -> Set<SnapshotGrouping> {
        var out = Set<SnapshotGrouping>()
        for part in groupBy.split(separator: ",") {
            guard let g = SnapshotGrouping(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--group-by takes 'host', 'paths', 'host,paths' or '' (got \"\(groupBy)\")")
            }
            out.insert(g)
        }
        return out
    }

    func validate() throws {
        let policy = try policy()
        if !ids.isEmpty, !policy.isEmpty {
            throw ValidationError("give snapshot ids or a policy (--keep-…), not both")
        }
        if ids.isEmpty, policy.isEmpty {
            throw ValidationError("no policy given, so every snapshot would be removed: say what to keep with --keep-last, --keep-daily, --keep-within, …, or name the snapshots to remove (cairn forget ID...)")
        }
        _ = try grouping()
    }

    func run() throws {
        let repo = try options.repository()
        let opts = ForgetOptions(policy: try policy(), ids: ids, groupBy: try grouping(), dryRun: dryRun)
        let summary = try cairnRun { () throws(DataError) in try repo.forget(opts) }
        let pruned = prune && !dryRun ? try cairnRun { () throws(DataError) in try repo.prune(PruneOptions()) } : nil
        if json {
            struct Both: Encodable {
                let forget: ForgetSummary
                let prune: PruneSummary
            }
            if let pruned { try Terminal.printJSON(Both(forget: summary, prune: pruned)) } else { try Terminal.printJSON(summary) }
            return
        }
        if ids.isEmpty { printPolicyTables(summary) } else { printNamed(summary) }
        print("")
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(summary.removed) of \(summary.kept + summary.removed) snapshots, kept \(summary.kept)")
        if let pruned {
            PruneReport.print(pruned)
        } else if summary.removed > 0, !dryRun {
            print("their data stays on the targets until `cairn prune`")
        }
    }

    /// The snapshots named, one line each (those kept are not listed).
    private func printNamed(_ summary: ForgetSummary) {
        let gone = summary.groups.flatMap(\.snapshots).filter { !$0.keep }
        print("\(dryRun ? "would remove" : "remove") \(gone.count) snapshot\(gone.count == 1 ? "" : "s") given by id:")
        print("ID                TIME                       HOST  PATHS")
        for s in gone {
            print("\(s.id.padding(toLength: 16, withPad: " ", startingAt: 0))  \(Format.localTime(s.time))  \(s.hostname)  \(s.paths.map { "/" + $0 }.joined(separator: " "))")
        }
    }

    private func printPolicyTables(_ summary: ForgetSummary) {
        print("applying policy: \(summary.policy)")
        for g in summary.groups {
            var about: [String] = []
            if let h = g.hostname { about.append("host \(h)") }
            if let p = g.paths { about.append("paths \(p.map { "/" + $0 }.joined(separator: " "))") }
            print("")
            if !about.isEmpty { print("snapshots of \(about.joined(separator: ", ")):") }
            let kept = g.snapshots.filter(\.keep)
            let gone = g.snapshots.filter { !$0.keep }
            for (list, verb) in [(kept, "keep"), (gone, dryRun ? "would remove" : "remove")] where !list.isEmpty {
                print("\(verb) \(list.count) snapshot\(list.count == 1 ? "" : "s"):")
                print("ID                TIME                       REASONS")
                for s in list {
                    print("\(s.id.padding(toLength: 16, withPad: " ", startingAt: 0))  \(Format.localTime(s.time))  \(s.reasons.joined(separator: ", "))")
                }
            }
        }
    }
}
