import CairnWire
import CairnCore
import CairnCrypto

/// Synthetic shard contents: segment i of a shard is BLAKE2b-512 of (shard id ‖ i), so any
/// holder can produce it on demand and the owner can compute the root without anyone
/// storing the nominal bytes. Terabytes of simulated data cost nothing.
public enum Synthetic {
    public static let segmentBytes = 64

    public static func segment(_ shard: SlotID, _ index: UInt32) -> [UInt8] {
        // (pack u64 BE ‖ index u8 ‖ segment u32 BE), assembled on the stack.
        var input: (UInt64, UInt8, UInt8, UInt8, UInt8, UInt8) = (shard.volume.number.bigEndian, shard.index, 0, 0, 0, 0)
        let i = index.bigEndian
        return withUnsafeMutableBytes(of: &input) { raw in
            withUnsafeBytes(of: i) { raw.baseAddress!.advanced(by: 9).copyMemory(from: $0.baseAddress!, byteCount: 4) }
            return Blake2b.hash(UnsafeRawBufferPointer(rebasing: raw[0..<13]), outputLength: segmentBytes)
        }
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

    /// Computes the trees of the next pack's `count` shards (packs are numbered densely in
    /// the order they are added) and returns their roots.
    mutating func addPack(_ pack: VolumeID, shards count: Int) -> [[UInt8]] {
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
