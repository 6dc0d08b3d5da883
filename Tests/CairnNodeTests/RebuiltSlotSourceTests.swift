import CairnCore
import CairnData
import CairnNet
@testable import CairnNode
import CairnTestSupport
import CairnWire
import Foundation
import Testing

/// A 3-of-5 volume as an owner places it: packs erasure-coded by the engine's coder, slot i
/// streaming shard i of every pack (shard header, then bytes), the root record last in
/// every slot.
private struct CodedVolume {
    static let repository = RepositoryID([UInt8](repeating: 9, count: RepositoryID.size))
    let volume = VolumeID(owner: NodeID(4), number: 3)
    let k = 3, n = 5
    /// slots[i][p]: pack p of slot i.
    var slots: [[SlotStreamPack]]

    init(packs: Int, seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let coder = try ErasureCoder(k: 3, n: 5)
        slots = Array(repeating: [], count: 5)
        for p in 0..<packs {
            let data = rng.bytes(90_000 + rng.int(in: 0...200_000))
            let shards = coder.encode(data)
            for i in 0..<5 {
                let header = ShardHeader(repository: Self.repository, pack: PackID(serial: UInt64(p + 1)), index: i, k: 3, n: 5,
                                         packLength: data.count, shardLength: shards[i].count)
                let shard = header.encode() + shards[i]
                slots[i].append(SlotStreamPack(geometry: PackGeometry(k: 3, n: 5, shardBytes: UInt64(shard.count)), shard: shard))
            }
        }
        let envelope = Array("CRNR".utf8) + rng.bytes(500)
        for i in 0..<5 { slots[i].append(SlotStreamPack(geometry: PackGeometry(k: 3, n: 5, shardBytes: UInt64(envelope.count)), shard: envelope)) }
    }

    func slot(_ i: Int) -> SlotID { SlotID(volume: volume, index: UInt8(i)) }
    func stream(_ i: Int) -> [UInt8] { SlotStream.encode(slots[i]) }

    func extent(_ i: Int) -> SlotExtent {
        var tree = SlotTree()
        for pack in slots[i] { tree.append(pack.leaf) }
        return SlotExtent(packs: UInt32(slots[i].count), bytes: slots[i].reduce(0) { $0 + $1.geometry.shardBytes }, root: tree.root)
    }
}

/// Spools `bytes` as the fetch reply `request` from `from`, then opens it as the repairer does.
private func fetched(_ store: HeldSlotStore, _ request: UInt64, from: NodeID = NodeID(7), _ bytes: [UInt8]) throws -> HeldStreamReader {
    let spool = try store.fetchSpool(request: request, from: from, announced: UInt64(bytes.count))
    try spool.write(bytes)
    try spool.finish()
    return try store.openFetched(request: request, from: from)
}

/// Everything the source gives, asked for in uneven pieces as the transport does.
private func drain(_ source: RebuiltSlotSource, total: Int) throws(NetError) -> [UInt8] {
    var out = [UInt8]()
    var step = 1
    while out.count < total {
        let piece = try source.read(max: min(step, total - out.count))
        if piece.isEmpty { break }
        out += piece
        step = step * 5 + 13
    }
    return out
}

/// Every slot of the volume, rebuilt from any three others (fetched spools, and one slot
/// the repairer holds itself), is byte for byte the slot the owner made, and a target's
/// held store takes it against the slot root the owner computed.
@Test func aRebuiltSlotIsTheOwnersSlotByteForByte() throws {
    let folder = try TemporaryFolder("rebuilt-slot")
    let v = try CodedVolume(packs: 4, seed: 21)
    let repairer = try HeldSlotStore(dataDirectory: folder.sub("repairer"), capacity: 1 << 30)
    // The repairer holds slot 0 itself.
    try spoolStore(repairer, v.slot(0), from: 0, v.stream(0))
    try repairer.storeSpooled(v.slot(0), from: 0, to: v.extent(0))
    var request: UInt64 = 0
    for target in 0..<5 {
        let others = (0..<5).filter { $0 != target }
        for skip in others {
            let chosen = others.filter { $0 != skip }.prefix(3)
            let sources = try chosen.map { i -> (index: Int, reader: HeldStreamReader) in
                if i == 0 { return (i, try repairer.openSlotStream(v.slot(0))) }
                request += 1
                return (i, try fetched(repairer, request, v.stream(i)))
            }
            let source = RebuiltSlotSource(target: target, packs: UInt32(v.slots[target].count), sources: sources)
            let rebuilt = try drain(source, total: v.stream(target).count)
            #expect(rebuilt == v.stream(target), "slot \(target) from \(Array(chosen))")
            #expect(try source.read(max: 100).isEmpty, "nothing past the slot")
        }
    }
    // The target's store checks the rebuilt stream against the owner's root and keeps it.
    let target = try HeldSlotStore(dataDirectory: folder.sub("target"), capacity: 1 << 30)
    let source = RebuiltSlotSource(target: 3, packs: UInt32(v.slots[3].count),
                                   sources: try [1, 2, 4].map { i in request += 1; return (i, try fetched(repairer, request, v.stream(i))) })
    try spoolStore(target, v.slot(3), from: 0, try drain(source, total: v.stream(3).count))
    try target.storeSpooled(v.slot(3), from: 0, to: v.extent(3))
    #expect(try target.held(v.slot(3))?.extent == v.extent(3))
}

/// Sources that do not make the slot stop the upload with an error naming why, never a
/// trap: a source framing another pack's shard, one claiming another shard index, one
/// whose stream ends early, and root records that differ.
@Test func sourcesThatDisagreeStopTheUpload() throws {
    let folder = try TemporaryFolder("rebuilt-slot-hostile")
    let v = try CodedVolume(packs: 3, seed: 22)
    let store = try HeldSlotStore(dataDirectory: folder.sub("repairer"), capacity: 1 << 30)
    var request: UInt64 = 0
    func attempt(_ streams: [Int: [UInt8]]) throws -> String? {
        let sources = try streams.keys.sorted().map { i in request += 1; return (index: i, reader: try fetched(store, request, streams[i]!)) }
        let source = RebuiltSlotSource(target: 0, packs: UInt32(v.slots[0].count), sources: sources)
        do throws(NetError) {
            _ = try drain(source, total: v.stream(0).count)
            return nil
        } catch {
            return error.message
        }
    }
    let good = [1: v.stream(1), 2: v.stream(2), 3: v.stream(3)]
    #expect(try attempt(good) == nil)

    // Slot 2's second pack replaced by its first (a valid frame of another pack).
    var swapped = v.slots[2]
    swapped[1] = swapped[0]
    var streams = good
    streams[2] = SlotStream.encode(swapped)
    let swappedError = try #require(try attempt(streams))
    #expect(swappedError.contains("pack 1") && (swappedError.contains("differ in geometry") || swappedError.contains("not shard 2")),
            "\(swappedError)")

    // Slot 3's stream offered as slot 2's: right pack, wrong index.
    streams = good
    streams[2] = v.stream(3)
    #expect(try attempt(streams)?.contains("not shard 2") == true)

    // A source that ends after its first pack.
    streams = good
    streams[1] = SlotStream.encode(Array(v.slots[1].prefix(1)))
    #expect(try attempt(streams)?.contains("ends before pack 1") == true)

    // Root records that differ.
    var other = v.slots[3]
    let envelope = Array("CRNR".utf8) + [UInt8](repeating: 1, count: 500)
    other[other.count - 1] = SlotStreamPack(geometry: PackGeometry(k: 3, n: 5, shardBytes: UInt64(envelope.count)), shard: envelope)
    streams = good
    streams[3] = SlotStream.encode(other)
    #expect(try attempt(streams)?.contains("root records") == true)

    // Two sources where the code needs three.
    #expect(try attempt([1: v.stream(1), 2: v.stream(2)])?.contains("is not a shard of a 3-of-5") == true)
}
