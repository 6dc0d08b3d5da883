import CairnCrypto
import CairnData
import Foundation
import Testing

/// Tree chunk ids are keyed with their own subkey (5), not the snapshot key that seals
/// them; root records of version 1, whose snapshots used the snapshot key, still read.
@Suite struct TreeIDKeyTests {
    // MARK: new snapshots

    @Test func treeChunkIDsUseTheTreeIDKey() throws {
        let f = try RepositoryFixture(n: 3)
        try f.write("a.txt", Array("tree id key\n".utf8))
        let repo = try f.repository()
        let s = try repo.backup(BackupOptions(paths: [f.source], targets: f.targets, k: 2))
        let root = try #require(try repo.state.root())
        let snapshot = try #require(root.snapshots.first { $0.id == s.snapshot })
        #expect(snapshot.treeIDSubkey == 5)
        // A tree this small is one chunk: its id is the keyed hash of the whole blob.
        let blob = try #require(try repo.state.cachedTree(snapshot))
        #expect(snapshot.tree.count == 1)
        #expect(snapshot.tree[0].id.bytes == Blake2b.hash(blob, key: repo.keys.treeIDKey))
        #expect(snapshot.tree[0].id.bytes != Blake2b.hash(blob, key: repo.keys.snapshotKey))
        #expect(repo.keys.treeIDKey.withUnsafeBytes { Array($0) } != repo.keys.snapshotKey.withUnsafeBytes { Array($0) })
    }

    // MARK: the old version

    @Test func rootRecordVersion1IsStillRead() throws {
        let ref = ChunkRef(id: ObjectID([UInt8](repeating: 7, count: 32)), pack: ObjectID([UInt8](repeating: 8, count: 32)),
                           offset: 0, sealedLength: 90, plainLength: 50)
        let snapshot = SnapshotRecord(id: "0123456789abcdef", time: 1_700_000_000, hostname: "h", paths: ["home/me"],
                                      tree: [ref], parent: "", files: 1, directories: 1, symlinks: 0, bytes: 50, newBytes: 90,
                                      treeIDSubkey: SnapshotRecord.treeIDSubkeyLegacy)
        let pack = PackRecord(id: ObjectID([UInt8](repeating: 8, count: 32)), k: 1, n: 1, packLength: 90, shardLength: 90,
                              segmentSize: 65536, roots: [[UInt8](repeating: 9, count: 32)])
        let chunker = ChunkerSettings(ChunkerParameters.default)
        // Version 1 layout: the same fields, without the snapshot's tree-id subkey byte.
        var w = ByteWriter()
        w.raw(Array("CRNP".utf8))
        w.u8(1)
        w.u64(4)
        w.u32(UInt32(chunker.minSize))
        w.u32(UInt32(chunker.avgSize))
        w.u32(UInt32(chunker.maxSize))
        w.u8(UInt8(chunker.normalization))
        w.u32(1)
        var sw = ByteWriter()
        snapshot.encode(into: &sw)
        w.raw(Array(sw.bytes.dropLast()))
        w.u32(1)
        pack.encode(into: &w)
        let decoded = try RootRecord.decode(w.bytes)
        #expect(decoded == RootRecord(sequence: 4, chunker: chunker, snapshots: [snapshot], packs: [pack]))
        #expect(decoded.snapshots[0].treeIDSubkey == 4)
        // Written again, it is version 2 and keeps the legacy subkey.
        let again = decoded.encode()
        #expect(again[4] == 2)
        #expect(try RootRecord.decode(again) == decoded)
    }

    @Test func anUnknownTreeIDSubkeyIsRefused() throws {
        let snapshot = SnapshotRecord(id: "ab", time: 1, hostname: "h", paths: [], tree: [], parent: "", files: 0,
                                      directories: 0, symlinks: 0, bytes: 0, newBytes: 0, treeIDSubkey: 9)
        let bytes = RootRecord(sequence: 1, chunker: ChunkerSettings(ChunkerParameters.default), snapshots: [snapshot],
                               packs: []).encode()
        let e = #expect(throws: DecodeError.self) { _ = try RootRecord.decode(bytes) }
        #expect(e?.code == .badValue && e?.what == "root record", "\(String(describing: e))")
        #expect(e?.reason == "snapshot ab names tree-id subkey 9, which is neither 4 nor 5", "\(String(describing: e))")
    }
}
