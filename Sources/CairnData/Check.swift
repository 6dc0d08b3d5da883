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

    enum CodingKeys: String, CodingKey {
        case packs, problems
        case shardsChecked = "shards_checked", shardsGood = "shards_good", shardsRepaired = "shards_repaired"
        case packsUnrecoverable = "packs_unrecoverable", targetsRecreated = "targets_recreated"
        case durationSeconds = "duration_seconds"
    }

    public var healthy: Bool { packsUnrecoverable.isEmpty }
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
        let targets = try TargetSet(paths: paths, create: false)
        let targetLocks = repair ? try targets.paths.indices.filter { targets.problems[$0] == nil }
            .map { (i) throws(DataError) in try DirectoryLock(folder: targets.paths[i]) } : []
        defer { withExtendedLifetime((dataLock, targetLocks)) {} }
        let (found, rootProblems) = try currentRoot(targets: targets)
        guard let root = found else {
            throw DataError(.notFound, "no root record found on any target (\(paths.joined(separator: ","))): nothing to check")
        }
        var summary = CheckSummary(packs: root.packs.count, shardsChecked: 0, shardsGood: 0, shardsRepaired: 0,
                                   packsUnrecoverable: [], targetsRecreated: [], problems: rootProblems, durationSeconds: 0)
        for (i, p) in targets.problems.sorted(by: { $0.key < $1.key }) {
            summary.problems.append("target \(i + 1) (\(targets.paths[i])): \(p.oneLine)")
            if repair, root.packs.contains(where: { $0.n > i }) {
                do {
                    _ = try targets.recreate(i)
                    summary.targetsRecreated.append(targets.paths[i])
                } catch {
                    summary.problems.append("target \(i + 1) could not be re-created: \(error.message)")
                }
            }
        }
        let reader = PackReader(targets: targets, packs: root.packs)
        for record in root.packs {
            let (good, bad) = reader.goodShards(record)
            summary.shardsChecked += record.n
            summary.shardsGood += good.count
            if bad.isEmpty { continue }
            for i in bad.keys.sorted() { summary.problems.append("pack \(record.id) shard \(i): \(bad[i]!)") }
            guard good.count >= record.k else {
                summary.packsUnrecoverable.append(record.id.hex)
                continue
            }
            guard repair else { continue }
            let missing = bad.keys.sorted().filter { targets.targets[$0] != nil }
            do throws(any Error) {
                let coder = try ErasureCoder(k: record.k, n: record.n)
                let rebuilt = try coder.rebuild(shards: good, missing: missing)
                for i in missing {
                    guard let shard = rebuilt[i],
                          shard.withUnsafeBytes({ MerkleTree.root(of: $0, segmentSize: record.segmentSize) }) == record.roots[i]
                    else {
                        summary.problems.append("pack \(record.id) shard \(i): rebuilt shard does not match its root")
                        continue
                    }
                    try shard.withUnsafeBytes { try targets.targets[i]!.putShard(header: ShardHeader(record: record, index: i), bytes: $0) }
                    summary.shardsRepaired += 1
                }
            } catch {
                summary.problems.append("pack \(record.id): repair failed: \(error)")
            }
        }
        if repair { try publish(root, to: targets) }
        logger.info("check.done", metadata: [
            "packs": "\(summary.packs)", "shards.good": "\(summary.shardsGood)", "shards.repaired": "\(summary.shardsRepaired)",
        ])
        summary.durationSeconds = Date().timeIntervalSince(started)
        return summary
    }
}
