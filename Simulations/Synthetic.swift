import CairnCore
import CairnCrypto

/// Synthetic shard contents: segment i of a shard is BLAKE2b-512 of (shard id ‖ i), so any
/// holder can produce it on demand and the owner can compute the root without anyone
/// storing the nominal bytes. Terabytes of simulated data cost nothing.
enum Synthetic {
    static let segmentBytes = 64

    static func segment(_ shard: ShardID, _ index: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 13)
        w.u64(shard.pack.raw)
        w.u8(shard.index)
        w.u32(index)
        return Blake2b.hash(w.bytes, outputLength: segmentBytes)
    }

    static func segments(_ shard: ShardID, count: UInt32) -> [[UInt8]] {
        (0..<count).map { segment(shard, $0) }
    }

    static func root(_ shard: ShardID, count: UInt32) -> [UInt8] {
        Merkle.root(segments: segments(shard, count: count))
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
