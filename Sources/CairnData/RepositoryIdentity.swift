import Foundation
import Logging

/// Which repository a data directory backs up to, and the rules that keep another
/// repository of the same owner (its drives verify with the same keys) from ever being
/// taken for it.
extension Repository {
    /// This data directory's repository as far as it knows it: `config.json`, else the
    /// root record in the local index. Nil for a data directory just recovered from the
    /// phrase, or one made before repositories had ids.
    public var knownRepository: RepositoryID? {
        config.repository.flatMap { RepositoryID(hex: $0) } ?? (try? state.root())?.repository
    }

    /// Opens targets for this data directory's repository: those of another repository
    /// it can tell by their metadata are left out at once (see `TargetSet.init`).
    public func openTargets(_ paths: [String], access: LocalTarget.Access, count: Int?) throws(DataError) -> TargetSet {
        try TargetSet(paths: paths, access: access, count: count, repository: knownRepository)
    }

    /// Settles which repository this command works on, from what the data directory
    /// knows, else `--repository`, else the root records found (`found`: target path and
    /// record), and remembers it in `config.json`:
    /// - a data directory that knows its repository keeps it (a `--repository` naming
    ///   another is an error: one data directory, one repository);
    /// - one from before ids, with history, takes the id of a record that continues its
    ///   history (shares a snapshot: another device gave the repository an id), else none;
    /// - one that knows nothing (recovered from the phrase) takes the newest repository
    ///   found that enough targets hold to read (newest snapshot, then sequence), and when
    ///   the targets hold several, a warning in `problems` lists the others. Targets whose
    ///   metadata names a repository but that hold no root record of it yet (a first
    ///   backup that was killed) count too, as a repository with no snapshots.
    func resolveRepository(found: [(path: String, record: RootRecord)], recorded: [(path: String, repository: RepositoryID?)],
                           local: RootRecord?, problems: inout [String]) throws(DataError) -> RepositoryID? {
        if let known = knownRepository {
            if let choice = repositoryChoice?.lowercased(), !known.hex.hasPrefix(choice) {
                throw DataError(.invalidArgument, "this data directory belongs to repository \(known), not \(choice): to use repository \(choice), recover into a data directory of its own (`cairn init --recover --data-dir DIR`, then `--data-dir DIR --repository \(choice)`)")
            }
            if config.repository == nil { try adopt(known) }
            return known
        }
        var candidates: [RepositoryID: Candidate] = [:]
        for (path, record) in found {
            guard let id = record.repository else { continue }
            var c = candidates[id] ?? Candidate(id: id, record: record, paths: [])
            if record.sequence > c.record?.sequence ?? 0 { c.record = record }
            c.paths.append(path)
            candidates[id] = c
        }
        for (path, id) in recorded {
            guard let id, candidates[id]?.paths.contains(path) != true else { continue }
            var c = candidates[id] ?? Candidate(id: id, record: nil, paths: [])
            c.paths.append(path)
            candidates[id] = c
        }
        let all = candidates.values.sorted { $0.newer(than: $1) }
        if let choice = repositoryChoice?.lowercased() {
            let matches = all.filter { $0.id.hex.hasPrefix(choice) }
            guard matches.count == 1 else {
                let listed = all.isEmpty ? "none of the targets holds a repository with an id" : "the targets hold " + all.map(\.summary).joined(separator: "; ")
                throw DataError(matches.isEmpty ? .notFound : .invalidArgument, matches.isEmpty
                    ? "no target given holds repository \(choice) (\(listed)): name its targets with --from, or check the id (`cairn snapshots` shows it)"
                    : "\(choice) matches \(matches.count) repositories: give more of the id (\(listed))")
            }
            try adopt(matches[0].id)
            return matches[0].id
        }
        if let local {
            let history = Set(local.snapshots.map(\.id))
            guard let continuing = all.first(where: { !history.isDisjoint(with: $0.record?.snapshots.map(\.id) ?? []) }) else { return nil }
            try adopt(continuing.id)
            return continuing.id
        }
        guard let newest = all.first else { return nil }
        let pick = all.first { $0.paths.count >= ($0.record?.packs.map(\.k).min() ?? 1) } ?? newest
        if all.count > 1 {
            let others = all.filter { $0.id != pick.id }.map(\.summary).joined(separator: "; ")
            problems.append("the targets hold \(all.count) repositories of this owner: using \(pick.summary), the newest that enough of them hold; also found: \(others). Give --repository ID to use another (one data directory keeps one repository)")
        }
        try adopt(pick.id)
        return pick.id
    }

    /// A repository found on the targets while choosing.
    private struct Candidate {
        let id: RepositoryID
        /// Its newest root record found; nil when its targets hold none yet.
        var record: RootRecord?
        var paths: [String]

        func newer(than other: Candidate) -> Bool {
            (record?.newestSnapshotTime ?? 0, record?.sequence ?? 0, id)
                > (other.record?.newestSnapshotTime ?? 0, other.record?.sequence ?? 0, other.id)
        }

        var summary: String {
            let what = record.map { Repository.describe($0) } ?? "no root record yet"
            return "repository \(id) (\(what), on \(paths.count) of the targets: \(paths.joined(separator: ", ")))"
        }
    }

    /// "3 snapshots, the newest from 2026-12-01T10:00:00Z" for messages.
    static func describe(_ record: RootRecord) -> String {
        guard !record.snapshots.isEmpty else { return "no snapshots" }
        let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(record.newestSnapshotTime)))
        return "\(record.snapshots.count) snapshot\(record.snapshots.count == 1 ? "" : "s"), the newest from \(when)"
    }

    /// Remembers `id` as this data directory's repository.
    func adopt(_ id: RepositoryID) throws(DataError) {
        guard config.repository != id.hex else { return }
        var c = config
        c.repository = id.hex
        try saveConfig(c)
        logger.info("repository.adopted", metadata: ["repository": "\(id)"])
    }

    /// The repository a write goes to (a new id for one made before ids existed, or the
    /// first backup of a recovered data directory), recorded on every target in use before
    /// anything of it is written there.
    func claimTargets(_ targets: TargetSet) throws(DataError) -> RepositoryID {
        let id = targets.repository ?? knownRepository ?? RepositoryID.random()
        try adopt(id)
        targets.repository = id
        for t in targets.targets { try t?.claim(id) }
        return id
    }

    /// A root record is published only when every pack it names that `previous` (the
    /// record it replaces) did not has at least k shards on the targets: a record naming
    /// packs a killed run never finished, that a target lost or that a prune elsewhere
    /// removed would make its new snapshots unrestorable. (Packs the previous record
    /// already named and the targets lost since are what `check` reports; republishing
    /// them changes nothing.)
    func requirePacksOnTargets(_ root: RootRecord, previous: RootRecord?, counts: [PackID: Int]) throws(DataError) {
        let named = Set(previous?.packs.map(\.id) ?? [])
        let short = root.packs.filter { !named.contains($0.id) && counts[$0.id, default: 0] < $0.k }
        guard let first = short.first else { return }
        throw DataError(.unrecoverable, "the root record was not written: \(short.count) of the packs it adds are not on the targets (pack \(first.id) has \(counts[first.id, default: 0]) of the \(first.k) shards needed); nothing was published, run the command again")
    }
}
