import CairnCrypto
import CairnStore
import Foundation
import Testing

@testable import CairnData

/// Repositories made before repositories had ids (root record version 2, shard header
/// version 1, `cairn-target-v1` targets, no id in `config.json`) keep working: they are
/// read as "repository unknown", get an id at their next write, and a drive of another
/// repository that has one is still left out. And a root record is never published
/// naming packs the targets do not hold.
@Suite struct RepositoryIdentityEngineTests {
    /// Rewrites every shard header of `target` (a new one made from the old by `change`).
    static func rewriteShards(of target: String, _ change: (ShardHeader) -> ShardHeader) throws {
        let env = try LMDBEnvironment(path: target, mapSize: 1 << 40, maxDatabases: 4)
        let shards = try env.openDatabase("shards")
        try env.write { txn in
            var rewritten: [([UInt8], [UInt8])] = []
            try txn.forEach(shards, prefix: []) { key, value in
                let h = try ShardHeader(decoding: Array(value.prefix(ShardHeader.size)))
                rewritten.append((key, change(h).encode() + Array(value[h.encodedSize...])))
                return true
            }
            for (key, value) in rewritten { try txn.put(shards, key, value) }
        }
    }

    /// Rewrites a repository into the formats from before repository ids, in place.
    static func downgrade(_ f: RepositoryFixture, targets: [String]) throws {
        let dir = DataDirectory(path: f.dataDir)
        let keys = try dir.loadKeys()
        for t in targets {
            try rewriteShards(of: t) { $0.with(repository: nil) }
            let env = try LMDBEnvironment(path: t, mapSize: 1 << 40, maxDatabases: 4)
            let meta = try env.openDatabase("meta")
            try env.write { txn in
                _ = try txn.delete(meta, LocalTarget.repositoryKey)
                try txn.put(meta, LocalTarget.formatKey, Array("cairn-target-v1".utf8))
                var root = try RootEnvelope.open(try #require(try txn.get(meta, LocalTarget.rootKey)), keys: keys)
                root.repository = nil
                try txn.put(meta, LocalTarget.rootKey, RootEnvelope.seal(root, keys: keys))
            }
        }
        var config = try dir.loadConfig()
        config.repository = nil
        try dir.saveConfig(config)
        let state = try LocalState(path: dir.statePath)
        var root = try #require(try state.root())
        root.repository = nil
        try state.saveRoot(root)
    }

    @Test func aRepositoryFromBeforeIDsRestoresAndGetsAnIDAtItsNextBackup() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let first = try f.repository().backup(BackupOptions(paths: [f.source], targets: f.targets))
        try Self.downgrade(f, targets: f.targets)
        let expected = try snapshotOfTree(f.source)

        // Read as it is: nothing about it is known, nothing is refused.
        let repo = try f.repository()
        #expect(repo.knownRepository == nil)
        let out = f.base + "/out1"
        _ = try repo.restore(RestoreOptions(destination: out))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == expected)
        #expect(try repo.check(repair: false).damageFound == false)
        #expect(repo.knownRepository == nil)
        // (Each handle is let go at once: one store is not opened read-only and for
        // writing in one process.)
        #expect(try LocalTarget(path: f.targets[0], access: .read).identity().repository == nil)

        // The next backup gives it an id, on every target and in every new shard; the old
        // shards (version 1) are still read.
        try f.write("small.txt", Array("changed\n".utf8))
        let second = try repo.backup(BackupOptions(paths: [f.source]))
        let id = try #require(repo.knownRepository)
        #expect(repo.config.repository == id.hex)
        for t in f.targets {
            #expect(try LocalTarget(path: t, access: .read).identity().repository == id)
        }
        #expect(try repo.state.root()?.repository == id)
        let out2 = f.base + "/out2"
        _ = try repo.restore(RestoreOptions(snapshot: first.snapshot, destination: out2))
        var old = expected
        old["small.txt"] = try snapshotOfTree(out2 + f.source)["small.txt"]
        #expect(try snapshotOfTree(out2 + f.source) == old)
        let out3 = f.base + "/out3"
        _ = try repo.restore(RestoreOptions(snapshot: second.snapshot, destination: out3))
        #expect(FileManager.default.contents(atPath: out3 + f.source + "/small.txt") == Data("changed\n".utf8))
        let check = try repo.check(repair: false)
        #expect(check.healthy && !check.damageFound, "\(check.problems)")
    }

    @Test func aRepositoryFromBeforeIDsLeavesOutADriveOfAnotherRepository() throws {
        let f = try RepositoryFixture()
        try f.populate()
        _ = try f.repository().backup(BackupOptions(paths: [f.source], targets: f.targets))
        try Self.downgrade(f, targets: f.targets)
        // The same owner's other repository, with an id and a higher sequence.
        let otherData = f.base + "/other-data"
        _ = try DataDirectory(path: otherData).initialize(with: f.mnemonic)
        let otherTargets = (1...3).map { f.base + "/other-t\($0)" }
        let other = try f.repository(dataDir: otherData)
        for _ in 0..<3 { _ = try other.backup(BackupOptions(paths: [f.source + "/small.txt"], targets: otherTargets, k: 2)) }
        try FileManager.default.removeItem(atPath: f.targets[0])
        try FileManager.default.moveItem(atPath: otherTargets[0], toPath: f.targets[0])

        let repo = try f.repository()
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        #expect(r.targetsUnavailable == [f.targets[0]])
        #expect(r.warnings.contains { $0.contains("\(f.targets[0]) holds another repository") }, "\(r.warnings)")
        #expect(repo.knownRepository == nil)
        #expect { _ = try repo.backup(BackupOptions(paths: [f.source])) } throws: {
            ($0 as? DataError)?.code == .targetUnavailable && ($0 as? DataError)?.message.contains("another repository") == true
        }
        #expect(try other.browse(from: [f.targets[0]]).root.snapshots.count == 3)
    }

    // MARK: shards of another repository

    /// Shards whose headers name another repository, on a target of this one, are not
    /// read as its own: the restore rebuilds those packs from the other targets and names
    /// the target; `check` reports them and writes this repository's shards in their place.
    @Test func shardsOfAnotherRepositoryAreRebuiltFromTheOthers() throws {
        let f = try RepositoryFixture()
        try f.populate()
        _ = try f.repository().backup(BackupOptions(paths: [f.source], targets: f.targets))
        let stranger = RepositoryID([UInt8](repeating: 0x77, count: 16))
        try Self.rewriteShards(of: f.targets[1]) { $0.with(repository: stranger) }

        let repo = try f.repository()
        let out = f.base + "/out"
        let r = try repo.restore(RestoreOptions(destination: out))
        #expect(try snapshotOfTree(f.restoredRoot(out)) == snapshotOfTree(f.source))
        #expect(r.packsRebuilt > 0)
        #expect(r.warnings.contains { $0.contains(f.targets[1]) }, "\(r.warnings)")
        let report = try repo.check(repair: false)
        #expect(report.damageFound)
        #expect(report.problems.contains { $0.contains("shard of another repository (\(stranger))") }, "\(report.problems)")
        let repaired = try repo.check()
        #expect(repaired.shardsRepaired == repaired.packs)
        #expect(try repo.check(repair: false).damageFound == false)
    }

    // MARK: the last check before a root record is published

    @Test func aRootRecordNamingAPackTheTargetsDoNotHoldIsNotPublished() throws {
        let f = try RepositoryFixture()
        try f.populate()
        let repo = try f.repository()
        _ = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets))
        let root = try #require(try repo.state.root())
        let targets = try repo.openTargets(f.targets, access: .write, count: f.targets.count)
        _ = try repo.currentRoot(targets: targets)
        let missing = PackRecord(id: PackID.random(), k: 3, n: 5, packLength: 10, shardLength: 4, segmentSize: 65536,
                                 roots: (0..<5).map { _ in [UInt8](repeating: 0, count: 32) })
        var next = root
        next.sequence += 1
        next.packs.append(missing)
        #expect { try repo.publish(next, replacing: root, to: targets) } throws: {
            ($0 as? DataError)?.code == .unrecoverable && ($0 as? DataError)?.message.contains("not on the targets") == true
        }
        let stored = try RootEnvelope.open(try #require(try targets.target(forShard: 0)?.readRoot()), keys: repo.keys)
        #expect(stored.sequence == root.sequence)
        #expect(try repo.state.root()?.sequence == root.sequence)
        // A record naming only packs the targets hold is published.
        next.packs.removeLast()
        try repo.publish(next, replacing: root, to: targets)
        #expect(try RootEnvelope.open(try #require(try targets.target(forShard: 0)?.readRoot()), keys: repo.keys).sequence == next.sequence)
    }
}

extension ShardHeader {
    /// The same header naming another repository (nil: a version 1 header).
    func with(repository: RepositoryID?) -> ShardHeader {
        ShardHeader(repository: repository, pack: pack, index: index, k: k, n: n, packLength: packLength, shardLength: shardLength)
    }
}
