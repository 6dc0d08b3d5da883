import CairnCore
import CairnCrypto
internal import CairnData
import CairnWire

/// A volume of random data the node places when it starts with `--test-volume` (tests and
/// demonstrations of the network before `cairn backup` hands the node real packs): the
/// packs are erasure-coded like the engine's (k of n, 64 KiB segments), appended to one
/// volume of this node, and kept in memory until every slot has them — the owner's
/// upload streams them from here. Not kept across a restart.
struct TestVolume {
    let id: VolumeID
    /// Per slot, its shard of every pack.
    private(set) var slots: [[SlotStreamPack]]

    init(owner: NodeID, bytes: Int, packBytes: Int = 1 << 20, k: Int, n: Int) throws(NodeError) {
        id = VolumeID(owner: owner, number: 0x7e57_0000)
        let coder: ErasureCoder
        do { coder = try ErasureCoder(k: k, n: n) } catch {
            throw NodeError(.invalidSetting, "a test volume cannot be coded \(k)-of-\(n)", cause: error)
        }
        slots = Array(repeating: [], count: n)
        var left = max(bytes, 1)
        while left > 0 {
            let length = min(left, packBytes)
            left -= length
            let data = SecureRandom.bytes(length)
            let shards = data.withUnsafeBytes { coder.encode($0) }
            let geometry = PackGeometry(k: k, n: n, shardBytes: UInt64(shards[0].count))
            for (i, shard) in shards.enumerated() { slots[i].append(SlotStreamPack(geometry: geometry, shard: shard)) }
        }
    }

    var packs: Int { slots[0].count }
    var slotBytes: UInt64 { slots[0].reduce(0) { $0 + $1.geometry.shardBytes } }

    /// Opens the volume in the core and appends every pack.
    func place(in core: inout NodeCore, now: Instant) throws(NodeError) {
        do {
            try core.openVolume(id, k: slots[0][0].geometry.k, n: slots.count, capacity: slotBytes)
            for j in 0..<packs {
                _ = try core.appendPack(to: id, geometry: slots[0][j].geometry, roots: slots.map { $0[j].root }, now: now)
            }
            try core.closeVolume(id)
        } catch {
            throw NodeError(.invalidSetting, "the test volume could not be opened", cause: error)
        }
    }

    /// Packs `from..<to` of slot `index`, as the stream behind `storeSlot`.
    func stream(slot index: Int, from: UInt32, to: UInt32) -> SlotStreamPacksSource? {
        guard index < slots.count, from < to, Int(to) <= packs else { return nil }
        return SlotStreamPacksSource(Array(slots[index][Int(from)..<Int(to)]))
    }
}
