import CairnWire
import CairnCore

/// A shard stored on a simulated node (its contents are synthetic): what the node answers
/// challenges and fetches from, and the ground truth the checkers count.
struct Copy {
    var node: UInt32
    var index: UInt8
    /// The volume's first `packs` packs of this slot are here.
    var packs: UInt32
    var bytes: UInt64
    /// When the holder's grace period for it ends (it was released), in milliseconds;
    /// `Int64.max` while its contract is active. Past it the copy is owed to nobody.
    var graceUntil = Int64.max
}

/// What the simulated nodes store for others. Copies are kept by pack: a challenge or a
/// fetch finds the holder's copy among the few copies of its pack (one small array) rather
/// than in a per-node dictionary (header, bitmap, key and value: a cache miss each), and
/// the checkers read a pack's copies in the same place. Each node also lists the packs it
/// stores, to wipe its disk. A node stores at most one shard of a pack.
struct Disks {
    /// By pack number, in the order they were stored.
    private(set) var copies: [[Copy]] = []
    /// By node: the packs it stores a shard of, in no particular order.
    private var packs: [[VolumeID]]
    /// By node.
    private(set) var storedBytes: [UInt64]

    init(nodes: Int) {
        packs = Array(repeating: [], count: nodes)
        storedBytes = Array(repeating: 0, count: nodes)
    }

    /// Makes room for the copies of the next pack (packs are numbered densely).
    mutating func addPack(_ pack: VolumeID) {
        precondition(Int(pack.number) == copies.count, "\(pack) added out of order")
        copies.append([])
    }

    /// The shard of `pack` that `node` stores, if any.
    func copy(on node: Int, of pack: VolumeID) -> Copy? {
        copies[Int(pack.number)].first { $0.node == UInt32(node) }
    }

    /// `node` stores `copy` of a shard of `pack`; it must store no other shard of that pack.
    mutating func store(_ copy: Copy, of pack: VolumeID) {
        precondition(Int(copy.node) < packs.count && self.copy(on: Int(copy.node), of: pack) == nil,
                     "node\(copy.node) already stores a shard of \(pack)")
        copies[Int(pack.number)].append(copy)
        packs[Int(copy.node)].append(pack)
        storedBytes[Int(copy.node)] += copy.bytes
    }

    /// The holder `node` keeps its shard of `pack` only until `until` (it was released).
    mutating func setGrace(on node: Int, of pack: VolumeID, index: UInt8, until: Int64) {
        guard let at = copies[Int(pack.number)].firstIndex(where: { $0.node == UInt32(node) && $0.index == index }) else { return }
        copies[Int(pack.number)][at].graceUntil = until
    }

    /// `node`'s copy of slot `index` of the volume grew to `packs` packs, `bytes` long.
    mutating func grow(on node: Int, of volume: VolumeID, index: UInt8, packs: UInt32, bytes: UInt64) {
        guard let at = copies[Int(volume.number)].firstIndex(where: { $0.node == UInt32(node) && $0.index == index }) else { return }
        storedBytes[node] += bytes - copies[Int(volume.number)][at].bytes
        copies[Int(volume.number)][at].packs = packs
        copies[Int(volume.number)][at].bytes = bytes
    }

    /// Frees the shard of `pack` on `node`; returns it, or nil when there was none.
    @discardableResult
    mutating func remove(on node: Int, of pack: VolumeID) -> Copy? {
        guard let at = copies[Int(pack.number)].firstIndex(where: { $0.node == UInt32(node) }) else { return nil }
        let copy = copies[Int(pack.number)].remove(at: at)
        let listed = packs[node].firstIndex(of: pack)!
        packs[node].swapAt(listed, packs[node].count - 1)
        packs[node].removeLast()
        storedBytes[node] -= copy.bytes
        return copy
    }

    /// Everything `node` stored is gone.
    mutating func wipe(node: Int) {
        for pack in packs[node] {
            copies[Int(pack.number)].removeAll { $0.node == UInt32(node) }
        }
        packs[node] = []
        storedBytes[node] = 0
    }
}
