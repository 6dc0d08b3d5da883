/// How one pack is cut, recorded with the pack by the engine and carried with it by the
/// node core: any `k` of its `n` shards rebuild it; each shard is `shardBytes` long and is
/// proven in segments of `segmentBytes` (the last one may be shorter) under a Merkle root.
/// Nothing in Cairn assumes one network-wide k, n or segment size: each pack says its own.
public struct PackGeometry: Hashable, Sendable, CustomStringConvertible {
    /// The widest code: shard sets are kept as 64-bit masks.
    public static let shardsMax = 64
    /// The engine's Merkle segment.
    public static let segmentBytesDefault: UInt32 = 64 * 1024
    /// The largest segment a geometry read from a disk or the wire may have (a challenge
    /// reply carries one whole segment). Geometries made in memory may use larger ones:
    /// the simulator's synthetic packs stand for gigabyte shards proven in a few segments.
    public static let segmentBytesMax: UInt32 = 64 * 1024
    /// Segments per shard (so a shard is at most 64 GiB with 64 KiB segments).
    public static let segmentsMax: UInt32 = 1 << 20
    /// A Merkle path is at most this deep (⌈log2 segmentsMax⌉ = 20, with room).
    public static let proofDepthMax = 32
    /// BLAKE2b-256 roots and path nodes.
    public static let hashBytes = 32
    /// Bytes of `write(into:)`.
    public static let encodedBytes = 14

    public let k: Int
    public let n: Int
    public let shardBytes: UInt64
    public let segmentBytes: UInt32

    /// Why these values do not make a pack, or nil when they do.
    public static func problem(k: Int, n: Int, shardBytes: UInt64, segmentBytes: UInt32) -> String? {
        guard k >= 1, k <= n, n <= shardsMax else { return "k=\(k) of n=\(n) (need 1 ≤ k ≤ n ≤ \(shardsMax))" }
        guard segmentBytes >= 1 else { return "segments of no bytes" }
        guard shardBytes >= 1, shardBytes <= UInt64(segmentsMax) * UInt64(segmentBytes) else {
            return "shard of \(shardBytes) bytes (1 to \(segmentsMax) segments of \(segmentBytes))"
        }
        return nil
    }

    /// For values the caller has checked (`problem` is nil); use `init(reading:)` for bytes
    /// from elsewhere.
    public init(k: Int, n: Int, shardBytes: UInt64, segmentBytes: UInt32 = segmentBytesDefault) {
        if let p = Self.problem(k: k, n: n, shardBytes: shardBytes, segmentBytes: segmentBytes) {
            preconditionFailure("pack geometry: \(p)")
        }
        self.k = k
        self.n = n
        self.shardBytes = shardBytes
        self.segmentBytes = segmentBytes
    }

    public init(reading r: inout ByteReader) throws(DecodeError) {
        let at = r.offset
        let k = Int(try r.u8())
        let n = Int(try r.u8())
        let shardBytes = try r.u64()
        let segmentBytes = try r.u32()
        if let p = Self.problem(k: k, n: n, shardBytes: shardBytes, segmentBytes: segmentBytes) {
            throw r.fail("pack geometry: \(p)", at: at)
        }
        guard segmentBytes <= Self.segmentBytesMax else {
            throw r.fail("pack geometry: segments of \(segmentBytes) bytes (at most \(Self.segmentBytesMax))", at: at)
        }
        self.init(k: k, n: n, shardBytes: shardBytes, segmentBytes: segmentBytes)
    }

    public func write(into w: inout ByteWriter) {
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u64(shardBytes)
        w.u32(segmentBytes)
    }

    /// Segments per shard (at least one: a shard is never empty).
    public var segments: UInt32 {
        UInt32((shardBytes + UInt64(segmentBytes) - 1) / UInt64(segmentBytes))
    }

    /// Length of segment `i` (the last one holds what is left).
    public func segmentLength(_ i: UInt32) -> Int {
        precondition(i < segments, "segment \(i) of \(segments)")
        let start = UInt64(i) * UInt64(segmentBytes)
        return Int(min(UInt64(segmentBytes), shardBytes - start))
    }

    /// Depth of a shard's Merkle path (siblings in a proof, at most).
    public var proofDepth: Int {
        var width = Int(segments), depth = 0
        while width > 1 {
            width = (width + 1) / 2
            depth += 1
        }
        return depth
    }

    public var description: String { "\(k)-of-\(n), \(shardBytes)-byte shards in \(segmentBytes)-byte segments" }
}
