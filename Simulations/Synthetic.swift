import CairnWire
import CairnCore
import CairnCrypto

/// Synthetic shard contents: segment i of a slot's shard is BLAKE2b-512 of (slot id ‖ i), so
/// any holder can produce it on demand and the owner can compute the root without anyone
/// storing the nominal bytes. Every pack of a synthetic volume has the same shard in a
/// slot, so a slot's tree has equal leaves and its root and paths take O(log packs)
/// hashes. Terabytes of simulated data cost nothing.
public enum Synthetic {
    public static let segmentBytes = 64

    public static func segment(_ shard: SlotID, _ index: UInt32) -> [UInt8] {
        // (volume u64 BE ‖ index u8 ‖ segment u32 BE), assembled on the stack.
        var input: (UInt64, UInt8, UInt8, UInt8, UInt8, UInt8) = (shard.volume.raw.bigEndian, shard.index, 0, 0, 0, 0)
        let i = index.bigEndian
        return withUnsafeMutableBytes(of: &input) { raw in
            withUnsafeBytes(of: i) { raw.baseAddress!.advanced(by: 9).copyMemory(from: $0.baseAddress!, byteCount: 4) }
            return Blake2b.hash(UnsafeRawBufferPointer(rebasing: raw[0..<13]), outputLength: segmentBytes)
        }
    }

    /// The path of leaf `index` in a tree of `count` copies of `leaf` (what `SlotTree` and
    /// `MerkleTree` give for such a tree), without building it.
    public static func uniformPath(leaf: [UInt8], index: UInt32, count: UInt32) -> [[UInt8]] {
        precondition(index < count, "leaf \(index) of \(count)")
        var equal = [leaf]
        func full(_ h: Int) -> [UInt8] {
            while equal.count <= h { equal.append(MerkleTree.nodeHash(equal[equal.count - 1], equal[equal.count - 1])) }
            return equal[h]
        }
        var path = [[UInt8]]()
        var i = UInt64(index), width = UInt64(count), level = 0
        let total = UInt64(count)
        while width > 1 {
            let sibling = i ^ 1
            if sibling < width {
                let first = sibling << UInt64(level)
                let size = min(UInt64(1) << UInt64(level), total - first)
                if size == UInt64(1) << UInt64(level) {
                    path.append(full(level))
                } else {
                    var partial = SlotTree()
                    partial.append(leaf, count: UInt32(size))
                    path.append(partial.root)
                }
            }
            i /= 2
            width = (width + 1) / 2
            level += 1
        }
        return path
    }

    public static func segments(_ shard: SlotID, count: UInt32) -> [[UInt8]] {
        (0..<count).map { segment(shard, $0) }
    }

    public static func root(_ shard: SlotID, count: UInt32) -> [UInt8] {
        MerkleTree.levels(leaves: segments(shard, count: count).map(MerkleTree.leafHash)).last![0]
    }

    /// The whole Merkle tree of a synthetic shard, flattened level by level (leaves first,
    /// 32 bytes per node): a holder computes it once and answers every later challenge
    /// from it, as a real holder keeps its shard's tree.
    public static func tree(_ shard: SlotID, count: UInt32) -> [UInt8] {
        let levels = MerkleTree.levels(leaves: segments(shard, count: count).map(MerkleTree.leafHash))
        var flat = [UInt8]()
        flat.reserveCapacity(levels.reduce(0) { $0 + $1.count } * MerkleTree.hashLength)
        for level in levels {
            for node in level { flat.append(contentsOf: node) }
        }
        return flat
    }

    /// The Merkle path of leaf `index` read from a flattened tree (same as `MerkleTree.proof` over the concatenated segments).
    public static func proof(tree: [UInt8], count: Int, index: Int) -> [[UInt8]] {
        tree.withUnsafeBytes { proof(tree: $0, count: count, index: index) }
    }

    static func proof(tree: UnsafeRawBufferPointer, count: Int, index: Int) -> [[UInt8]] {
        var proof = [[UInt8]]()
        var offset = 0
        var width = count
        var i = index
        while width > 1 {
            let sibling = i ^ 1
            if sibling < width {
                let at = (offset + sibling) * MerkleTree.hashLength
                proof.append(Array(UnsafeRawBufferPointer(rebasing: tree[at..<at + MerkleTree.hashLength])))
            }
            offset += width
            width = (width + 1) / 2
            i /= 2
        }
        return proof
    }
}

/// The Merkle trees of every shard of a run, by pack number. A synthetic shard's contents
/// are a function of its id alone, so one tree serves the owner (its root) and every node
/// that ever holds the shard: each tree is computed once, when the pack is made, instead of
/// again by every holder at its first challenge.
struct ShardTrees {
    /// Segments per shard (the same for every pack of a run).
    let segments: UInt32
    /// Bytes of one flattened tree (`Synthetic.tree`).
    private let treeBytes: Int
    /// Per pack, the flattened trees of its shards one after another.
    private var packs: [[UInt8]] = []

    init(segments: UInt32) {
        precondition(segments > 0, "shards of no segments")
        self.segments = segments
        var nodes = 0
        var width = Int(segments)
        while true {
            nodes += width
            if width == 1 { break }
            width = (width + 1) / 2
        }
        treeBytes = nodes * MerkleTree.hashLength
    }

    /// Computes the trees of the next volume's `count` shards (volumes are numbered densely
    /// in the order they are added; every pack of a volume has these shards) and returns
    /// their roots.
    mutating func addVolume(_ pack: VolumeID, shards count: Int) -> [[UInt8]] {
        precondition(Int(pack.number) == packs.count, "\(pack) added out of order")
        var flat = [UInt8]()
        flat.reserveCapacity(count * treeBytes)
        var roots = [[UInt8]]()
        for index in 0..<count {
            let tree = Synthetic.tree(SlotID(volume: pack, index: UInt8(index)), count: segments)
            precondition(tree.count == treeBytes, "tree of \(tree.count) bytes, expected \(treeBytes)")
            flat.append(contentsOf: tree)
            roots.append(Array(tree[tree.count - MerkleTree.hashLength..<tree.count]))
        }
        packs.append(flat)
        return roots
    }

    /// The root of every pack's shard in `slot`.
    func root(_ slot: SlotID) -> [UInt8] {
        let end = (Int(slot.index) + 1) * treeBytes
        return Array(packs[Int(slot.volume.number)][end - MerkleTree.hashLength..<end])
    }

    /// The Merkle path of segment `index` of `shard` (same as `Synthetic.proof`).
    func proof(_ shard: SlotID, index: Int) -> [[UInt8]] {
        let at = Int(shard.index) * treeBytes
        return packs[Int(shard.volume.number)].withUnsafeBytes { raw in
            Synthetic.proof(tree: UnsafeRawBufferPointer(rebasing: raw[at..<at + treeBytes]), count: Int(segments), index: index)
        }
    }
}

/// The event trace hash: every event is summarised into a buffer that is streamed into
/// BLAKE2b-256 as it fills.
struct TraceHash: ~Copyable {
    private var hasher = Blake2b(outputLength: 32)
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(8192) }

    @inline(__always)
    mutating func add(_ v: UInt64) {
        var x = v.bigEndian
        withUnsafeBytes(of: &x) { buffer.append(contentsOf: $0) }
        if buffer.count >= 8000 { flush() }
    }

    mutating func flush() {
        hasher.update(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    consuming func finalize() -> [UInt8] {
        flush()
        return hasher.finalize()
    }
}
