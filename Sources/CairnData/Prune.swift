import CairnCrypto
import Foundation
import Logging

public struct PruneOptions: Sendable {
    /// A pack whose unused share (bytes no snapshot needs over its length) exceeds this
    /// fraction is repacked: its used chunks are copied into new packs and it is removed.
    public var maxUnused: Double
    public var dryRun: Bool

    public init(maxUnused: Double = 0.10, dryRun: Bool = false) {
        self.maxUnused = maxUnused
        self.dryRun = dryRun
    }
}

public struct PruneSummary: Codable, Sendable {
    public struct Target: Codable, Sendable {
        public var path: String
        public var shardsRemoved: Int
        /// Size of the target's store file before and after (after: estimated by a dry run).
        public var bytesBefore: UInt64
        public var bytesAfter: UInt64
        public var bytesFreed: UInt64
        /// The compaction that gives the space back waited in vain for another command to
        /// close the store (a long restore): it is still owed, and the next prune does it.
        public var compactionDeferred: Bool = false

        enum CodingKeys: String, CodingKey {
            case path
            case shardsRemoved = "shards_removed", bytesBefore = "bytes_before", bytesAfter = "bytes_after"
            case bytesFreed = "bytes_freed", compactionDeferred = "compaction_deferred"
        }
    }

    public var dryRun: Bool
    public var snapshots: Int
    public var packs: Int
    /// Packs no snapshot uses any more.
    public var packsRemoved: Int
    /// Packs whose used chunks were copied into new packs before they were removed.
    public var packsRepacked: Int
    public var packsWritten: Int
    public var chunksMoved: Int
    public var bytesMoved: UInt64
    /// Snapshots whose tree was stored again because the chunks it names moved.
    public var treesRewritten: Int
    /// Packs on the targets or in the local index that no root record names (left by a
    /// killed backup or prune).
    public var packsOrphaned: Int
    /// Bytes of sealed chunks no snapshot uses, before the prune.
    public var bytesUnused: UInt64
    public var targets: [Target]
    public var bytesFreed: UInt64
    public var durationSeconds: Double
    /// What the user should know (a compaction left for the next prune, and why).
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", snapshots, packs, targets, warnings
        case packsRemoved = "packs_removed", packsRepacked = "packs_repacked", packsWritten = "packs_written"
        case chunksMoved = "chunks_moved", bytesMoved = "bytes_moved", treesRewritten = "trees_rewritten"
        case packsOrphaned = "packs_orphaned", bytesUnused = "bytes_unused", bytesFreed = "bytes_freed"
        case durationSeconds = "duration_seconds"
    }
}

/// What a prune will do, worked out before anything is written.
struct PrunePlan {
    /// Packs of the root record to keep as they are.
    var keep: Set<PackID> = []
    /// Packs of the root record no snapshot uses.
    var unused: Set<PackID> = []
    /// Packs of the root record to copy out of, then remove.
    var repack: Set<PackID> = []
    /// Chunks of `repack` packs that snapshots still use, in pack then offset order.
    var moving: [ChunkRef] = []
    /// Which of `moving` are tree chunks (sealed with the snapshot key, not the data key).
    var treeChunks: Set<ChunkRef> = []
    /// Snapshots whose file entries name a chunk that moves: their tree is stored again.
    var rewrite: Set<String> = []
    var bytesUnused: UInt64 = 0
}

extension Repository {
    /// Gives back the space of data no snapshot uses. The steps are ordered so that a
    /// process killed at any point loses nothing that is to be kept, and the next prune
    /// finishes the job:
    /// 1. plan from the current root record (read only);
    /// 2. drop from the local index the chunks of packs about to go (so nothing new is
    ///    deduplicated against them; losing index entries costs at most a re-upload);
    /// 3. copy the still-used chunks of mostly-empty packs into new packs, and store again
    ///    the trees that name them; every new pack is durable on all targets first;
    /// 4. publish the root record naming only kept and new packs, to every target;
    /// 5. forget the other packs in the local index;
    /// 6. only then delete every shard of a pack the root record does not name — this
    ///    also takes the shards a killed backup or prune left behind;
    /// 7. compact each target's store into a new file and rename it over the old one.
    public func prune(_ options: PruneOptions) throws(DataError) -> PruneSummary {
        let started = Date()
        guard options.maxUnused >= 0, options.maxUnused <= 1 else {
            throw DataError(.invalidArgument, "--max-unused must be between 0% and 100%")
        }
        let session = try WriteSession(repository: self, command: "prune", readOnly: options.dryRun)
        let before = session.paths.map { LocalTarget.storeFileSize(path: $0) }
        let (plan, root, summary) = try prunePlanAndPublish(options, session: session)
        var result = summary
        guard let root else {
            result.durationSeconds = Date().timeIntervalSince(started)
            return result
        }
        if options.dryRun {
            result.targets = estimate(plan, root: root, session: session, sizes: before)
            result.bytesFreed = result.targets.reduce(0) { $0 + $1.bytesFreed }
            result.durationSeconds = Date().timeIntervalSince(started)
            return result
        }
        let live = Set(root.packs.map(\.id))
        // By folder: targets are arranged by the shard index they hold, not by their place.
        var removed: [String: Int] = [:]
        for t in session.targets.targets.compactMap({ $0 }) {
            removed[t.path] = try t.removeShards(ofPacks: { !live.contains($0) })
            CrashPoint.pass("prune.target-cleaned")
        }
        // Compaction replaces each store's file: no handle on it may stay open.
        try session.closeTargets()
        for (i, p) in session.paths.enumerated() {
            var deferred = false
            switch try LocalTarget.compactIfOwed(path: p) {
            case .compacted: CrashPoint.pass("prune.target-compacted")
            case .notOwed: break
            case .deferred(let reason):
                deferred = true
                result.warnings.append(reason)
                logger.warning("prune.compaction-deferred", metadata: ["target.path": "\(p)"])
            }
            let after = LocalTarget.storeFileSize(path: p)
            result.targets.append(PruneSummary.Target(
                path: p, shardsRemoved: removed[p] ?? 0, bytesBefore: before[i], bytesAfter: after,
                bytesFreed: before[i] > after ? before[i] - after : 0, compactionDeferred: deferred))
        }
        result.bytesFreed = result.targets.reduce(0) { $0 + $1.bytesFreed }
        result.durationSeconds = Date().timeIntervalSince(started)
        logger.info("prune.done", metadata: ["packs.removed": "\(result.packsRemoved)", "packs.repacked": "\(result.packsRepacked)",
                                             "bytes.freed": "\(result.bytesFreed)"])
        return result
    }

    /// Steps 1 to 5. Returns the root record now published (nil when there are no
    /// snapshots' data to look at), and the summary so far.
    private func prunePlanAndPublish(_ options: PruneOptions, session: WriteSession)
        throws(DataError) -> (PrunePlan, RootRecord?, PruneSummary) {
        let targets = session.targets
        let (found, _) = try currentRoot(targets: targets)
        if !options.dryRun { try session.requireEveryTarget() }
        var summary = PruneSummary(dryRun: options.dryRun, snapshots: 0, packs: 0, packsRemoved: 0, packsRepacked: 0,
                                   packsWritten: 0, chunksMoved: 0, bytesMoved: 0, treesRewritten: 0, packsOrphaned: 0,
                                   bytesUnused: 0, targets: [], bytesFreed: 0, durationSeconds: 0)
        guard let root = found else {
            throw DataError(.notFound, "no root record found on any target: there is nothing to prune")
        }
        let reader = PackReader(targets: targets, packs: root.packs)
        let plan = try prunePlan(root, reader: reader, maxUnused: options.maxUnused)
        let rootPacks = Set(root.packs.map(\.id))
        var orphans = Set(try state.allPacks().map(\.id)).subtracting(rootPacks)
        for t in targets.targets {
            guard let t else { continue }
            for key in try t.shardKeys() where !rootPacks.contains(key.pack) { orphans.insert(key.pack) }
        }
        summary.snapshots = root.snapshots.count
        summary.packs = root.packs.count
        summary.packsRemoved = plan.unused.count
        summary.packsRepacked = plan.repack.count
        summary.packsOrphaned = orphans.count
        summary.chunksMoved = plan.moving.count
        summary.bytesMoved = plan.moving.reduce(0) { $0 + UInt64($1.sealedLength) }
        summary.treesRewritten = plan.rewrite.count
        summary.bytesUnused = plan.bytesUnused
        logger.info("prune.plan", metadata: ["unused": "\(plan.unused.count)", "repack": "\(plan.repack.count)",
                                             "orphans": "\(orphans.count)", "moving": "\(plan.moving.count)"])
        if options.dryRun { return (plan, root, summary) }
        if plan.unused.isEmpty, plan.repack.isEmpty {
            // Nothing new to remove; steps 4 to 7 still finish what a killed run left:
            // every target gets the root record before any shard it does not name goes.
            try publish(root, replacing: root, to: targets)
            try state.removePacks(keeping: rootPacks)
            return (plan, root, summary)
        }

        // 2. Nothing may be deduplicated against chunks of packs that are going.
        let going = plan.unused.union(plan.repack).union(orphans)
        try state.removePacks(keeping: Set(try state.allPacks().map(\.id)).subtracting(going), recordsToo: false)
        CrashPoint.pass("prune.index-cleaned")

        // 3. New packs for the chunks that move, and the trees that name them.
        let parameters: ChunkerParameters
        let coder: ErasureCoder
        do {
            parameters = try root.chunker.parameters()
            coder = try ErasureCoder(k: config.k, n: targets.n)
        } catch {
            throw DataError(.corrupt, "the repository's chunker settings or geometry are invalid", cause: error)
        }
        var run = BackupRun(repository: self, repositoryID: try claimTargets(targets), parameters: parameters, coder: coder,
                            targets: targets, chunkKey: keys.chunkIDKey, progress: { _ in })
        var moved: [ChunkRef: ChunkRef] = [:]
        for ref in plan.moving {
            if let done = run.stored[ref.id] {
                moved[ref] = done
                continue
            }
            // Authenticate before copying: a damaged chunk is read again through parity.
            _ = try reader.chunk(ref, key: plan.treeChunks.contains(ref) ? keys.snapshotKey : keys.dataKey)
            let pack = try reader.pack(ref.pack, verify: false)
            let sealed = Array(pack[Int(ref.offset)..<Int(ref.offset) + Int(ref.sealedLength)])
            moved[ref] = try run.append(id: ref.id, sealed: sealed, plainLength: Int(ref.plainLength))
        }
        var snapshots: [SnapshotRecord] = []
        var rewrittenTrees: [(SnapshotRecord, [UInt8])] = []
        for s in root.snapshots {
            guard plan.rewrite.contains(s.id) else {
                snapshots.append(s.with(tree: s.tree.map { moved[$0] ?? $0 }, treeIDSubkey: s.treeIDSubkey))
                continue
            }
            var entries = try loadTree(s, reader: reader)
            for i in entries.indices where !entries[i].chunks.isEmpty {
                entries[i].chunks = entries[i].chunks.map { moved[$0] ?? $0 }
            }
            let blob = TreeCodec.encode(entries)
            let rewritten = s.with(tree: try run.storeTree(blob), treeIDSubkey: SnapshotRecord.treeIDSubkeyCurrent)
            snapshots.append(rewritten)
            rewrittenTrees.append((rewritten, blob))
        }
        try run.finish()
        summary.packsWritten = run.writerStats.packs
        CrashPoint.pass("prune.packs-written")

        // 4. The root record naming kept and new packs only.
        let newIDs = Set(moved.values.map(\.pack)).union(snapshots.flatMap(\.tree).map(\.pack)).subtracting(rootPacks)
        let newPacks = try state.allPacks().filter { newIDs.contains($0.id) }
        guard newPacks.count == newIDs.count else {
            throw DataError(.corrupt, "\(newIDs.count - newPacks.count) new packs are missing from the local index after they were written; nothing was removed, run `cairn prune` again")
        }
        // Cached trees must match the root record: the old ones go before it is published
        // (a cache miss reads the tree from the packs), the new ones come after.
        try state.removeCachedTrees(ids: plan.rewrite)
        var next = root
        next.sequence += 1
        next.snapshots = snapshots
        next.packs = root.packs.filter { plan.keep.contains($0.id) } + newPacks
        try publish(next, replacing: root, to: targets)

        // 5. The local index forgets everything the root record does not name.
        try state.removePacks(keeping: Set(next.packs.map(\.id)))
        try state.removeCachedTrees(keeping: Set(next.snapshots.map(\.id)))
        for (s, blob) in rewrittenTrees { try? state.cacheTree(s, blob) }
        CrashPoint.pass("prune.state-cleaned")
        return (plan, next, summary)
    }

    /// Which packs are used, by how much, and what moves.
    private func prunePlan(_ root: RootRecord, reader: PackReader, maxUnused: Double) throws(DataError) -> PrunePlan {
        // The chunks any snapshot's files use, and the packs each snapshot's files use
        // (all that says whether its tree is stored again): memory grows with the chunks
        // and the packs, not with snapshots × chunks, as a set of each one's chunks would.
        var filePacks: [String: Set<PackID>] = [:]
        var usedByFiles = Set<ChunkRef>()
        for s in root.snapshots {
            var packs = Set<PackID>()
            for e in try loadTree(s, reader: reader) {
                for ref in e.chunks {
                    packs.insert(ref.pack)
                    usedByFiles.insert(ref)
                }
            }
            filePacks[s.id] = packs
        }
        let records = Dictionary(root.packs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var plan = PrunePlan()
        // A snapshot whose files name a chunk that moves gets a new tree, so its old tree
        // chunks are not used any more: repeat until no more packs fall below the limit.
        while true {
            var used = usedByFiles
            for s in root.snapshots where !plan.rewrite.contains(s.id) { used.formUnion(s.tree) }
            var usedBytes: [PackID: UInt64] = [:]
            for r in used { usedBytes[r.pack, default: 0] += UInt64(r.sealedLength) }
            var next = PrunePlan()
            for p in root.packs {
                let u = min(usedBytes[p.id] ?? 0, UInt64(p.packLength))
                next.bytesUnused += UInt64(p.packLength) - u
                if u == 0 {
                    next.unused.insert(p.id)
                } else if Double(UInt64(p.packLength) - u) > maxUnused * Double(p.packLength) {
                    next.repack.insert(p.id)
                } else {
                    next.keep.insert(p.id)
                }
            }
            next.rewrite = Set(root.snapshots.filter { s in !filePacks[s.id]!.isDisjoint(with: next.repack) }.map(\.id))
            next.moving = used.filter { next.repack.contains($0.pack) }.sorted { a, b in
                a.pack != b.pack ? a.pack < b.pack : a.offset < b.offset
            }
            let treeRefs = Set(root.snapshots.filter { !next.rewrite.contains($0.id) }.flatMap(\.tree))
            next.treeChunks = Set(next.moving.filter { treeRefs.contains($0) && !usedByFiles.contains($0) })
            let stable = next.rewrite == plan.rewrite
            plan = next
            if stable { break }
        }
        for ref in plan.moving where records[ref.pack] == nil {
            throw DataError(.corrupt, "chunk \(ref.id) names pack \(ref.pack), which the root record does not list")
        }
        return plan
    }

    /// What a dry run expects each target's store to give back: the shards of the packs
    /// that go, less the new packs' shards (the moving bytes spread over k data shards).
    private func estimate(_ plan: PrunePlan, root: RootRecord, session: WriteSession, sizes: [UInt64]) -> [PruneSummary.Target] {
        let live = plan.keep
        let records = Dictionary(root.packs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let moving = plan.moving.reduce(UInt64(0)) { $0 + UInt64($1.sealedLength) }
        let k = max(1, config.k)
        return session.paths.enumerated().map { i, p in
            var count = 0
            var bytes: UInt64 = 0
            if let t = session.targets.targets.first(where: { $0?.path == p }) ?? nil, let keys = try? t.shardKeys() {
                for key in keys where !live.contains(key.pack) {
                    count += 1
                    bytes += UInt64((records[key.pack]?.shardLength ?? 0) + ShardHeader.size)
                }
            }
            let added = (moving + UInt64(k) - 1) / UInt64(k)
            let freed = bytes > added ? bytes - added : 0
            return PruneSummary.Target(path: p, shardsRemoved: count, bytesBefore: sizes[i],
                                       bytesAfter: sizes[i] > freed ? sizes[i] - freed : 0, bytesFreed: min(freed, sizes[i]))
        }
    }
}

extension SnapshotRecord {
    /// The same snapshot with its tree stored elsewhere.
    func with(tree: [ChunkRef], treeIDSubkey: UInt8) -> SnapshotRecord {
        SnapshotRecord(id: id, time: time, hostname: hostname, paths: paths, tree: tree, parent: parent, files: files,
                       directories: directories, symlinks: symlinks, bytes: bytes, newBytes: newBytes,
                       treeIDSubkey: treeIDSubkey)
    }
}
