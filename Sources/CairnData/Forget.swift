import Foundation
import Logging

/// What a snapshot group is made of: restic's `--group-by`. The policy runs once per
/// group, so a rarely backed-up folder keeps its own history beside a busy one.
public enum SnapshotGrouping: String, Sendable, CaseIterable {
    case host
    case paths
}

public struct ForgetOptions: Sendable {
    public var policy: RetentionPolicy
    /// Snapshots to remove by id (a unique prefix, or "latest"), as restic's `forget ID`:
    /// instead of a policy, never with one.
    public var ids: [String]
    public var groupBy: Set<SnapshotGrouping>
    public var dryRun: Bool
    /// The zone whose calendar defines hours, days, weeks, months and years.
    public var timeZone: TimeZone

    public init(policy: RetentionPolicy = RetentionPolicy(), ids: [String] = [], groupBy: Set<SnapshotGrouping> = [.host, .paths],
                dryRun: Bool = false, timeZone: TimeZone = .current) {
        self.policy = policy
        self.ids = ids
        self.groupBy = groupBy
        self.dryRun = dryRun
        self.timeZone = timeZone
    }
}

public struct ForgetSummary: Codable, Sendable {
    public struct Snapshot: Codable, Sendable {
        public var id: String
        /// Unix seconds.
        public var time: Int64
        public var hostname: String
        public var paths: [String]
        public var keep: Bool
        public var reasons: [String]
    }

    public struct Group: Codable, Sendable {
        /// Present when snapshots are grouped by host.
        public var hostname: String?
        /// Present when snapshots are grouped by paths.
        public var paths: [String]?
        /// Newest first.
        public var snapshots: [Snapshot]
    }

    public var dryRun: Bool
    public var policy: String
    public var groups: [Group]
    public var kept: Int
    public var removed: Int

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", policy, groups, kept, removed
    }
}

extension Repository {
    /// Removes from the root record the snapshots the policy does not keep, or those
    /// named by id. Their data stays on the targets until `prune`: forget only publishes a
    /// smaller root record, in one step, so a killed forget leaves either the old list or
    /// the new one. Ids are all resolved before anything changes: one unknown or
    /// ambiguous id and nothing is removed.
    public func forget(_ options: ForgetOptions) throws(DataError) -> ForgetSummary {
        if !options.ids.isEmpty, !options.policy.isEmpty {
            throw DataError(.invalidArgument, "give snapshot ids or a policy (--keep-…), not both")
        }
        guard !options.policy.isEmpty || !options.ids.isEmpty else {
            throw DataError(.invalidArgument, "no policy given, so every snapshot would be removed: say what to keep with --keep-last, --keep-daily, --keep-within, …, or name the snapshots to remove")
        }
        if let empty = options.ids.firstIndex(where: { $0.isEmpty }) {
            throw DataError(.invalidArgument, "snapshot id \(empty + 1) is empty: give an id or a unique prefix of one (`cairn snapshots` lists them)")
        }
        let session = try WriteSession(repository: self, command: "forget", readOnly: options.dryRun)
        let (found, _) = try currentRoot(targets: session.targets)
        if !options.dryRun { try session.requireEveryTarget() }
        guard let root = found, !root.snapshots.isEmpty else { throw DataError(.notFound, "there are no snapshots yet: nothing to forget") }

        var (summary, keep) = options.ids.isEmpty ? Self.plan(root, options) : try Self.plan(root, ids: options.ids)
        summary.dryRun = options.dryRun
        summary.kept = keep.count
        summary.removed = root.snapshots.count - keep.count
        logger.info("forget.plan", metadata: ["kept": "\(summary.kept)", "removed": "\(summary.removed)", "dry_run": "\(options.dryRun)"])
        guard !options.dryRun else { return summary }

        // Published even when nothing is removed: a forget killed after writing some
        // targets is finished by the next one, so every target names the same snapshots.
        var next = root
        if summary.removed > 0 {
            next.sequence += 1
            next.snapshots = root.snapshots.filter { keep.contains($0.id) }
        }
        try publish(next, replacing: root, to: session.targets)
        try? state.removeCachedTrees(keeping: Set(next.snapshots.map(\.id)))
        return summary
    }

    /// The policy's decisions, group by group, and the ids it keeps.
    private static func plan(_ root: RootRecord, _ options: ForgetOptions) -> (ForgetSummary, Set<String>) {
        var groups: [(key: String, members: [Int])] = []
        var groupIndex: [String: Int] = [:]
        for (i, s) in root.snapshots.enumerated() {
            var key: [String] = []
            if options.groupBy.contains(.host) { key.append(s.hostname) }
            if options.groupBy.contains(.paths) { key.append(s.paths.sorted().joined(separator: "\u{0}")) }
            let k = key.joined(separator: "\u{1}")
            if let g = groupIndex[k] { groups[g].members.append(i) } else {
                groupIndex[k] = groups.count
                groups.append((k, [i]))
            }
        }

        var summary = ForgetSummary(dryRun: options.dryRun, policy: options.policy.description, groups: [], kept: 0, removed: 0)
        var keep = Set<String>()
        let now = Int64(Date().timeIntervalSince1970)
        for g in groups {
            let members = g.members.map { root.snapshots[$0] }
            let byID = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let decisions = options.policy.apply(to: members.map { RetentionCandidate(id: $0.id, time: $0.time) },
                                                 timeZone: options.timeZone, now: now)
            let first = members[0]
            summary.groups.append(ForgetSummary.Group(
                hostname: options.groupBy.contains(.host) ? first.hostname : nil,
                paths: options.groupBy.contains(.paths) ? first.paths : nil,
                snapshots: decisions.map { d in
                    let s = byID[d.id]!
                    return ForgetSummary.Snapshot(id: d.id, time: d.time, hostname: s.hostname, paths: s.paths,
                                                  keep: d.keep, reasons: d.reasons)
                }))
            for d in decisions where d.keep { keep.insert(d.id) }
        }
        return (summary, keep)
    }

    /// Every id resolved to one snapshot (`select`: an unknown or ambiguous one is the
    /// error, naming it), then one group of every snapshot, newest first: those named are
    /// removed ("given by id"), the others kept ("not named").
    private static func plan(_ root: RootRecord, ids: [String]) throws(DataError) -> (ForgetSummary, Set<String>) {
        var named = Set<String>()
        for wanted in ids {
            do { named.insert(try select(wanted, in: root).id) } catch {
                throw DataError(error.code, error.message + "; nothing was forgotten")
            }
        }
        let snapshots = root.snapshots.reversed().map { s in
            let gone = named.contains(s.id)
            return ForgetSummary.Snapshot(id: s.id, time: s.time, hostname: s.hostname, paths: s.paths, keep: !gone,
                                          reasons: [gone ? "given by id" : "not named"])
        }
        let summary = ForgetSummary(dryRun: false, policy: "snapshots given by id: " + ids.joined(separator: ", "),
                                    groups: [ForgetSummary.Group(hostname: nil, paths: nil, snapshots: snapshots)], kept: 0, removed: 0)
        return (summary, Set(root.snapshots.map(\.id)).subtracting(named))
    }
}
