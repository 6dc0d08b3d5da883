import CairnCrypto
import Foundation
import Logging

public struct CheckSummary: Codable, Sendable {
    public var packs: Int
    public var shardsChecked: Int
    public var shardsGood: Int
    public var shardsRepaired: Int
    public var packsUnrecoverable: [String]
    public var targetsRecreated: [String]
    public var problems: [String]
    public var durationSeconds: Double
    /// Targets still not in use when the check ended (not repaired, or not repairable).
    public var targetsUnusable: [String] = []
    /// What was noticed and is fine (a target found at another target's path).
    public var notes: [String] = []
    /// The repository checked (its id, hex; empty for one from before ids, checked read-only).
    public var repository = ""

    enum CodingKeys: String, CodingKey {
        case packs, problems
        case shardsChecked = "shards_checked", shardsGood = "shards_good", shardsRepaired = "shards_repaired"
        case packsUnrecoverable = "packs_unrecoverable", targetsRecreated = "targets_recreated"
        case durationSeconds = "duration_seconds", targetsUnusable = "targets_unusable", notes, repository
    }

    /// Every pack can still be restored.
    public var healthy: Bool { packsUnrecoverable.isEmpty }
    /// Anything was wrong when the check looked (repaired since or not).
    public var damageFound: Bool { !problems.isEmpty || shardsGood < shardsChecked }
}

extension Repository {
    /// Verifies every shard of every pack against its Merkle root and rebuilds missing or
    /// damaged shards from any k good ones, onto their own target (re-created empty if
    /// its folder or store is gone; a damaged store is moved aside, not deleted). The root
    /// record is written back to every target too.
    public func check(from: [String]? = nil, repair: Bool = true) throws(DataError) -> CheckSummary {
        let started = Date()
        // A repairing check writes shards and root records: one writer at a time.
        let dataLock = repair ? try DirectoryLock(folder: dataDirectory.path) : nil
        let paths = try targetPaths(from)
        let remembered = from == nil || from?.isEmpty == true
        let targets = try openTargets(paths, access: repair ? .write : .read, count: remembered ? paths.count : nil)
        let targetLocks = repair ? try targets.targets.compactMap { $0 }
            .map { (t) throws(DataError) in try DirectoryLock(folder: t.path) } : []
        defer { withExtendedLifetime((dataLock, targetLocks)) {} }
        let (found, rootProblems) = try currentRoot(targets: targets)
        guard let root = found else {
            let why = targets.problemLines.map { "\n  " + $0 }.joined()
            throw DataError(.notFound, "no root record found on any target (\(paths.joined(separator: ","))): nothing to check\(why)")
        }
        var summary = CheckSummary(packs: root.packs.count, shardsChecked: 0, shardsGood: 0, shardsRepaired: 0,
                                   packsUnrecoverable: [], targetsRecreated: [], problems: rootProblems, durationSeconds: 0)
        summary.notes = targets.notes
        let n = root.packs.map(\.n).max() ?? targets.n
        let unusable = targets.problems.sorted { $0.key < $1.key }
        for (_, problem) in unusable { summary.problems.append(problem.oneLine) }
        if repair {
            // Rebuild the folders that are missing or hold a damaged store, each as a shard
            // index no target holds (its own position's first). Others (a file, a folder
            // we may not write, another owner's target, a copy) are reported, never touched.
            var free = (0..<n).filter { targets.target(forShard: $0) == nil }
            let rebuildable = unusable.filter { Self.isRebuildable($0.value, path: paths[$0.key]) }.map(\.key)
            for position in rebuildable.sorted(by: { (free.contains($0) ? 0 : 1, $0) < (free.contains($1) ? 0 : 1, $1) }) {
                guard let slot = free.contains(position) ? position : free.first else { break }
                do {
                    _ = try targets.recreate(position: position, slot: slot)
                    free.removeAll { $0 == slot }
                    summary.targetsRecreated.append(paths[position])
                } catch {
                    summary.problems.append("target \(paths[position]) could not be re-created: \(error.oneLine)")
                }
            }
        }
        let repositoryID = repair ? try claimTargets(targets) : nil
        let reader = PackReader(targets: targets, packs: root.packs)
        for record in root.packs {
            let (good, bad) = reader.goodShards(record)
            summary.shardsChecked += record.n
            summary.shardsGood += good.count
            if bad.isEmpty { continue }
            for i in bad.keys.sorted() { summary.problems.append("pack \(record.id) shard \(i + 1): \(bad[i]!)") }
            guard good.count >= record.k else {
                summary.packsUnrecoverable.append(record.id.hex)
                continue
            }
            guard repair else { continue }
            let missing = bad.keys.sorted().filter { targets.target(forShard: $0) != nil }
            do throws(any Error) {
                let coder = try ErasureCoder(k: record.k, n: record.n)
                let rebuilt = try coder.rebuild(shards: good, missing: missing)
                for i in missing {
                    guard let shard = rebuilt[i], let target = targets.target(forShard: i),
                          shard.withUnsafeBytes({ MerkleTree.root(of: $0, segmentSize: record.segmentSize) }) == record.roots[i]
                    else {
                        summary.problems.append("pack \(record.id) shard \(i + 1): rebuilt shard does not match its root")
                        continue
                    }
                    try shard.withUnsafeBytes {
                        try target.putShard(header: ShardHeader(record: record, index: i, repository: repositoryID), bytes: $0)
                    }
                    summary.shardsRepaired += 1
                }
            } catch {
                summary.problems.append("pack \(record.id): repair failed: \(error)")
            }
        }
        if repair { try publish(root, replacing: root, to: targets) }
        summary.targetsUnusable = targets.problems.keys.sorted().map { paths[$0] }
        summary.repository = targets.repository?.hex ?? ""
        logger.info("check.done", metadata: [
            "packs": "\(summary.packs)", "shards.good": "\(summary.shardsGood)", "shards.repaired": "\(summary.shardsRepaired)",
        ])
        summary.durationSeconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Whether `check` may rebuild a target that could not be used: a missing folder, a
    /// folder without a store, or a damaged store (moved aside first). Not a file in its
    /// place, a folder it may not read or write, or another owner's, another repository's
    /// or a copied target (codes other than these two).
    static func isRebuildable(_ problem: DataError, path: String) -> Bool {
        if problem.code == .corrupt { return true }
        guard problem.code == .targetUnavailable else { return false }
        var st = stat()
        if stat(path, &st) != 0 { return errno == ENOENT }
        guard (st.st_mode & S_IFMT) == S_IFDIR, access(path, W_OK | X_OK) == 0 else { return false }
        var store = stat()
        return lstat(path + "/data.mdb", &store) != 0
    }
}
