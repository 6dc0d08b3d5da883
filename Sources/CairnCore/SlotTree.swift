import CairnWire
internal import CairnCrypto

/// The Merkle tree over one slot of a volume: leaf j is `leaf(root:geometry:)` of pack j's
/// shard in that slot. Kept as its right frontier — the roots of the perfect subtrees that
/// make up the packs so far, largest first — so appending is O(log packs) and the owner's
/// memory per slot stays a few hundred bytes however many packs the volume holds. With the
/// engine's promote-the-odd-node rule (`MerkleTree`), the tree's root is the right fold of
/// the frontier: H(P₀, H(P₁, … P_last)).
public struct SlotTree: Hashable, Sendable, Codable {
    /// Heights of the perfect subtrees, strictly decreasing.
    private var heights: [UInt8] = []
    private var peaks: [[UInt8]] = []
    public private(set) var count: UInt32 = 0

    public init() {}

    /// The leaf that commits to one pack's shard: its root and its geometry, so a holder
    /// cannot answer for a pack with another shard length or segment size.
    public static func leaf(root: [UInt8], geometry: PackGeometry) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.raw(root)
        geometry.write(into: &w)
        return MerkleTree.leafHash(w.bytes)
    }

    /// Appends `count` copies of `leaf` (one pack, or the simulator's identical synthetic
    /// packs) in O(log count) hashes.
    public mutating func append(_ leaf: [UInt8], count: UInt32 = 1) {
        precondition(UInt64(self.count) + UInt64(count) <= UInt64(UInt32.max), "slot tree of more than 2³² packs")
        var left = count
        // equal[h]: the root of 2^h copies of `leaf`.
        var equal = [leaf]
        while left > 0 {
            let aligned = self.count == 0 ? 32 : self.count.trailingZeroBitCount
            let h = min(aligned, 31 - left.leadingZeroBitCount)
            while equal.count <= h { equal.append(MerkleTree.nodeHash(equal[equal.count - 1], equal[equal.count - 1])) }
            heights.append(UInt8(h))
            peaks.append(equal[h])
            while heights.count >= 2, heights[heights.count - 1] == heights[heights.count - 2] {
                let right = peaks.removeLast(), height = heights.removeLast()
                peaks[peaks.count - 1] = MerkleTree.nodeHash(peaks[peaks.count - 1], right)
                heights[heights.count - 1] = height + 1
            }
            self.count += 1 << UInt32(h)
            left -= 1 << UInt32(h)
        }
    }

    /// The root over every leaf appended (the empty tree's root when none).
    public var root: [UInt8] {
        guard var hash = peaks.last else { return MerkleTree.emptyRoot }
        for peak in peaks.dropLast().reversed() { hash = MerkleTree.nodeHash(peak, hash) }
        return hash
    }

    /// Bytes of memory the frontier takes (for the owner's state budget).
    public var heapBytes: Int { peaks.count * (MerkleTree.hashLength + 32) + heights.count }
}
