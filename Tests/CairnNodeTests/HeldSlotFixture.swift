import CairnCore
import CairnCrypto
import CairnNode
import CairnTestSupport
import CairnWire
import Foundation

/// Real packs of one slot: random shards of different lengths (several segments each,
/// the last one short), their roots and slot-tree leaves, as an owner makes them.
struct SlotFixture {
    let slot: SlotID
    var packs: [SlotStreamPack] = []

    init(slot: SlotID = SlotID(volume: VolumeID(owner: NodeID(4), number: 9), index: 2), packs count: Int, seed: UInt64,
         k: Int = 3, n: Int = 5)
    {
        self.slot = slot
        var rng = SeededRandom(seed: seed)
        for p in 0..<count {
            // Alternate the engine's 64 KiB segments with small ones, so both paths are deep.
            let segment: UInt32 = p % 2 == 0 ? 4096 : PackGeometry.segmentBytesDefault
            let length = Int(segment) * (2 + p % 3) + rng.int(in: 1...Int(segment) - 1)
            let geometry = PackGeometry(k: k, n: n, shardBytes: UInt64(length), segmentBytes: segment)
            packs.append(SlotStreamPack(geometry: geometry, shard: rng.bytes(length)))
        }
    }

    /// What the owner keeps for the slot's first `count` packs.
    func extent(_ count: Int) -> SlotExtent {
        var tree = SlotTree()
        for pack in packs.prefix(count) { tree.append(pack.leaf) }
        return SlotExtent(packs: UInt32(count), bytes: packs.prefix(count).reduce(0) { $0 + $1.geometry.shardBytes },
                          root: tree.root)
    }

    /// The stream of packs `range`.
    func stream(_ range: Range<Int>) -> [UInt8] { SlotStream.encode(Array(packs[range])) }
}

/// Spools `bytes` as the transport would for `storeSlot(slot, from, …)`.
func spoolStore(_ store: HeldSlotStore, _ slot: SlotID, from: UInt32, _ bytes: [UInt8]) throws {
    let spool = try store.storeSpool(slot: slot, from: from, announced: UInt64(bytes.count))
    // In uneven pieces, as a socket delivers them.
    var at = 0, step = 1
    while at < bytes.count {
        let end = min(bytes.count, at + step)
        try spool.write(Array(bytes[at..<end]))
        at = end
        step = step * 3 + 7
    }
    try spool.finish()
}

/// Spools then stores packs `range` of the fixture; throws what `storeSpooled` throws.
func append(_ store: HeldSlotStore, _ fixture: SlotFixture, _ range: Range<Int>) throws {
    try spoolStore(store, fixture.slot, from: UInt32(range.lowerBound), fixture.stream(range))
    try store.storeSpooled(fixture.slot, from: UInt32(range.lowerBound), to: fixture.extent(range.upperBound))
}

/// The code of what `body` threw (nil when it did not throw a `HeldSlotError`).
func heldErrorCode(_ body: () throws -> Void) -> HeldSlotError.Code? {
    do {
        try body()
        return nil
    } catch let error as HeldSlotError {
        return error.code
    } catch {
        return nil
    }
}

/// The files in a folder (run files, spools).
func files(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
