import CairnCore
import CairnData
import CairnNet
import CairnNode
import CairnTestSupport
import CairnWire
import Foundation
import NIOCore
import Testing

/// A restore's fetched slot: Cairn shards (shard header, then bytes) of slot index 2 of a
/// 3-of-5 volume, and the root record as its last pack, framed as a holder streams them.
private struct FetchedFixture {
    static let repository = RepositoryID([UInt8](repeating: 7, count: RepositoryID.size))
    let slot = SlotID(volume: VolumeID(owner: NodeID(4), number: 9), index: 2)
    var packs: [SlotStreamPack] = []

    /// `count` shards of packs `firstPack`…, each `bytes(p)` long after its header.
    init(count: Int, firstPack: UInt64 = 1, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for p in 0..<count {
            let length = 70_000 + rng.int(in: 0...30_000)
            let header = ShardHeader(repository: Self.repository, pack: PackID(serial: firstPack + UInt64(p)), index: 2, k: 3, n: 5,
                                     packLength: 3 * length, shardLength: length)
            add(header.encode() + rng.bytes(length))
        }
        add(Array("CRNR".utf8) + rng.bytes(300))
    }

    mutating func add(_ shard: [UInt8]) {
        packs.append(SlotStreamPack(geometry: PackGeometry(k: 3, n: 5, shardBytes: UInt64(shard.count)), shard: shard))
    }

    var extent: SlotExtent {
        var tree = SlotTree()
        for pack in packs { tree.append(pack.leaf) }
        return SlotExtent(packs: UInt32(packs.count), bytes: packs.reduce(0) { $0 + $1.geometry.shardBytes }, root: tree.root)
    }

    func expectation(_ extent: SlotExtent? = nil) -> FetchedSlotSink.Expectation {
        FetchedSlotSink.Expectation(slot: slot, holder: NodeID(8), expect: extent ?? self.extent)
    }
}

/// `pack` with its shard's bytes (past the header) replaced, framed with their own root.
private func overwritten(_ pack: SlotStreamPack) -> SlotStreamPack {
    let shard = Array(pack.shard.prefix(ShardHeader.size)) + [UInt8](repeating: 0xEE, count: pack.shard.count - ShardHeader.size)
    return SlotStreamPack(geometry: pack.geometry, shard: shard)
}

/// Feeds `stream` to a new sink for fetch `request` in uneven pieces, as a socket delivers
/// them, then finishes it.
private func fetch(_ stream: [UInt8], request: UInt64, expecting: FetchedSlotSink.Expectation,
                   into staging: StagingShards) throws -> FetchedSlotSink
{
    let sink = FetchedSlotSink(request: request, expectation: expecting, announced: UInt64(stream.count), staging: staging)
    var at = 0, step = 5
    while at < stream.count {
        let end = min(stream.count, at + step)
        try sink.write(ByteBuffer(bytes: stream[at..<end]))
        at = end
        step = step * 3 + 11
    }
    try sink.finish()
    return sink
}

/// The shards in staging target `index` of `folder`, after the restore closed them.
private func stagedShards(_ staging: StagingShards, index: Int = 2) throws -> [PackID: [UInt8]] {
    _ = try staging.finish(root: Array("CRNR-root".utf8))
    let path = OwnerPacks.targetPath(dataDirectory: staging.dataDirectory, index: index)
    guard let target = try? LocalTarget(path: path, access: .read) else { return [:] }
    var out: [PackID: [UInt8]] = [:]
    for key in try target.shardKeys() { out[key.pack] = try target.readShard(pack: key.pack, index: key.index)?.bytes }
    return out
}

/// A stream that checks lands in its staging target, every shard as it came; the root
/// record is set aside for the client, not written as a shard.
@Test func aCheckedFetchIsWrittenStraightIntoItsTarget() throws {
    let folder = try TemporaryFolder("fetched-sink")
    let staging = StagingShards(dataDirectory: folder.path)
    let fixture = FetchedFixture(count: 4, seed: 1)
    let sink = try fetch(SlotStream.encode(fixture.packs), request: 1, expecting: fixture.expectation(), into: staging)
    #expect(sink.verified, "\(sink.failure ?? "")")
    #expect(sink.failure == nil)
    #expect(sink.shardsWritten == 4)
    #expect(sink.envelopes == [fixture.packs[4].shard])
    let staged = try stagedShards(staging)
    #expect(staged.count == 4)
    for p in 0..<4 {
        #expect(staged[PackID(serial: UInt64(1 + p))] == Array(fixture.packs[p].shard[ShardHeader.size...]))
    }
}

/// A shard that does not match the root in front of it fails the stream, and the shards
/// written before it are removed: nothing of that holder's stays.
@Test func aBadFrameFailsTheFetchAndLeavesNothing() throws {
    let folder = try TemporaryFolder("fetched-sink-bad")
    let staging = StagingShards(dataDirectory: folder.path)
    let fixture = FetchedFixture(count: 4, seed: 2)
    var stream = SlotStream.encode(fixture.packs)
    // A byte of the fourth shard, past its header: packs 0–2 were written by then.
    let fourth = fixture.packs.prefix(3).reduce(0) { $0 + SlotStream.frameHeaderBytes + Int($1.geometry.shardBytes) }
    stream[fourth + SlotStream.frameHeaderBytes + ShardHeader.size + 100] ^= 1
    let sink = try fetch(stream, request: 1, expecting: fixture.expectation(), into: staging)
    #expect(!sink.verified)
    #expect(sink.shardsWritten == 0)
    #expect(sink.failure?.contains("does not match its root") == true, "\(sink.failure ?? "")")
    // The target it created is left without a shard: removed when the restore ends, not
    // left an empty store the engine cannot place (`cairn check` re-creates a missing one).
    let path = OwnerPacks.targetPath(dataDirectory: folder.path, index: 2)
    #expect(FileManager.default.fileExists(atPath: path))
    #expect(try staging.finish(root: Array("CRNR-root".utf8)).isEmpty)
    #expect(!FileManager.default.fileExists(atPath: path))
}

/// A holder that frames its own shards with roots of its own (each frame checks) but not
/// the slot the owner placed fails at the slot's root, and what it wrote is removed.
@Test func aStreamOffTheSlotsRootLeavesNothing() throws {
    let folder = try TemporaryFolder("fetched-sink-off-root")
    let staging = StagingShards(dataDirectory: folder.path)
    let placed = FetchedFixture(count: 3, seed: 3)
    var forged = placed
    forged.packs[1] = overwritten(forged.packs[1])
    let sink = try fetch(SlotStream.encode(forged.packs), request: 1, expecting: placed.expectation(), into: staging)
    #expect(!sink.verified)
    #expect(sink.failure?.contains("is not the root expected") == true, "\(sink.failure ?? "")")
    #expect(try stagedShards(staging).isEmpty)
}

/// A hostile holder that frames packs another fetch already gave cannot replace them, nor
/// remove them when its own slot fails; one that frames packs another fetch is still
/// writing is refused.
@Test func aFetchNeverTouchesShardsAnotherFetchWrote() throws {
    let folder = try TemporaryFolder("fetched-sink-claims")
    let staging = StagingShards(dataDirectory: folder.path)
    let honest = FetchedFixture(count: 3, seed: 4)
    let kept = try fetch(SlotStream.encode(honest.packs), request: 1, expecting: honest.expectation(), into: staging)
    #expect(kept.verified)
    // The same packs, other bytes, each frame's root its own.
    var forged = honest
    for p in 0..<3 { forged.packs[p] = overwritten(forged.packs[p]) }
    let hostile = try fetch(SlotStream.encode(forged.packs), request: 2, expecting: forged.expectation(honest.extent), into: staging)
    #expect(!hostile.verified)
    // Still writing (half a stream in): another fetch of the same pack is refused.
    let other = FetchedFixture(count: 2, firstPack: 50, seed: 6)
    let stream = SlotStream.encode(other.packs)
    let writing = FetchedSlotSink(request: 3, expectation: other.expectation(), announced: UInt64(stream.count), staging: staging)
    let firstFrame = SlotStream.frameHeaderBytes + Int(other.packs[0].geometry.shardBytes)
    try writing.write(ByteBuffer(bytes: stream[..<firstFrame]))
    let rival = try fetch(stream, request: 4, expecting: other.expectation(), into: staging)
    #expect(!rival.verified)
    #expect(rival.failure?.contains("being written by another fetch") == true, "\(rival.failure ?? "")")
    writing.abandon()
    let staged = try stagedShards(staging)
    #expect(staged.count == 3)
    for p in 0..<3 {
        #expect(staged[PackID(serial: UInt64(1 + p))] == Array(honest.packs[p].shard[ShardHeader.size...]))
    }
}

/// A reply the session did not ask for, or of another length than the slot's stream, is
/// read and dropped: nothing written, never verified, the session not dropped.
@Test func aFetchReplyNobodyAskedForIsReadAndDropped() throws {
    let folder = try TemporaryFolder("fetched-sink-unasked")
    let staging = StagingShards(dataDirectory: folder.path)
    let fixture = FetchedFixture(count: 2, seed: 7)
    let stream = SlotStream.encode(fixture.packs)
    let unasked = FetchedSlotSink(request: 9, expectation: nil, announced: UInt64(stream.count), staging: staging)
    try unasked.write(ByteBuffer(bytes: stream))
    try unasked.finish()
    #expect(!unasked.verified)
    let long = try fetch(stream + [0], request: 10, expecting: fixture.expectation(), into: staging)
    #expect(!long.verified)
    #expect(long.failure?.contains("take") == true, "\(long.failure ?? "")")
    // Past the bytes announced, the stream is refused outright.
    let over = FetchedSlotSink(request: 11, expectation: fixture.expectation(), announced: 10, staging: staging)
    #expect(throws: NetError.self) { try over.write(ByteBuffer(bytes: [UInt8](repeating: 0, count: 11))) }
    #expect(try stagedShards(staging).isEmpty)
}
