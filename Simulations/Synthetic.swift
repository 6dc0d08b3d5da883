import CairnCore
import CairnCrypto

/// Synthetic shard contents: segment i of a shard is BLAKE2b-512 of (shard id ‖ i), so any
/// holder can produce it on demand and the owner can compute the root without anyone
/// storing the nominal bytes. Terabytes of simulated data cost nothing.
public enum Synthetic {
    public static let segmentBytes = 64

    public static func segment(_ shard: ShardID, _ index: UInt32) -> [UInt8] {
        // (pack u64 BE ‖ index u8 ‖ segment u32 BE), assembled on the stack.
        var input: (UInt64, UInt8, UInt8, UInt8, UInt8, UInt8) = (shard.pack.raw.bigEndian, shard.index, 0, 0, 0, 0)
        let i = index.bigEndian
        return withUnsafeMutableBytes(of: &input) { raw in
            withUnsafeBytes(of: i) { raw.baseAddress!.advanced(by: 9).copyMemory(from: $0.baseAddress!, byteCount: 4) }
            return Blake2b.hash(UnsafeRawBufferPointer(rebasing: raw[0..<13]), outputLength: segmentBytes)
        }
    }

    public static func segments(_ shard: ShardID, count: UInt32) -> [[UInt8]] {
        (0..<count).map { segment(shard, $0) }
    }

    public static func root(_ shard: ShardID, count: UInt32) -> [UInt8] {
        Merkle.root(segments: segments(shard, count: count))
    }

    /// The whole Merkle tree of a synthetic shard, flattened level by level (leaves first,
    /// 32 bytes per node): a holder computes it once and answers every later challenge
    /// from it, as a real holder keeps its shard's tree.
    public static func tree(_ shard: ShardID, count: UInt32) -> [UInt8] {
        let levels = Merkle.levels(leaves: segments(shard, count: count).map(Merkle.leafHash))
        var flat = [UInt8]()
        flat.reserveCapacity(levels.reduce(0) { $0 + $1.count } * Merkle.hashBytes)
        for level in levels {
            for node in level { flat.append(contentsOf: node) }
        }
        return flat
    }

    /// The Merkle path of leaf `index` read from a flattened tree (same as `Merkle.proof`).
    public static func proof(tree: [UInt8], count: Int, index: Int) -> [[UInt8]] {
        var proof = [[UInt8]]()
        var offset = 0
        var width = count
        var i = index
        while width > 1 {
            let sibling = i ^ 1
            if sibling < width {
                let at = (offset + sibling) * Merkle.hashBytes
                proof.append(Array(tree[at..<at + Merkle.hashBytes]))
            }
            offset += width
            width = (width + 1) / 2
            i /= 2
        }
        return proof
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
