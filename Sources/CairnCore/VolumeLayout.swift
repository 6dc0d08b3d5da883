import CairnWire

/// What every pack of a volume shares, and how much of it there is: the code (any k of the
/// n slots rebuild every pack), the packs appended so far and the bytes each slot holds.
/// Each pack keeps its own shard length and segment size (`PackGeometry`), proven with
/// every challenge; the core needs only these totals.
public struct VolumeLayout: Hashable, Sendable, Codable, CustomStringConvertible {
    public let k: Int
    public let n: Int
    /// Packs appended (the width of each slot's tree).
    public var packs: UInt32
    /// Bytes of shard data in each slot (the sum of the packs' shard lengths).
    public var slotBytes: UInt64

    /// Nil when out of range: k of n with 1 ≤ k ≤ n ≤ 64.
    public static func problem(k: Int, n: Int) -> String? {
        guard k >= 1, k <= n, n <= PackGeometry.shardsMax else {
            return "code \(k)-of-\(n) out of range (1 ≤ k ≤ n ≤ \(PackGeometry.shardsMax))"
        }
        return nil
    }

    public init(k: Int, n: Int, packs: UInt32 = 0, slotBytes: UInt64 = 0) {
        precondition(Self.problem(k: k, n: n) == nil, "volume layout \(k)-of-\(n)")
        self.k = k
        self.n = n
        self.packs = packs
        self.slotBytes = slotBytes
    }

    static let encodedBytes = 14

    public func write(into w: inout ByteWriter) {
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u32(packs)
        w.u64(slotBytes)
    }

    public init(reading r: inout ByteReader) throws(DecodeError) {
        let at = r.offset
        let k = Int(try r.u8()), n = Int(try r.u8())
        if let problem = Self.problem(k: k, n: n) { throw DecodeError(.badValue, problem, offset: at) }
        self.init(k: k, n: n, packs: try r.u32(), slotBytes: try r.u64())
    }

    public var description: String { "\(k)-of-\(n), \(packs) packs, \(slotBytes) bytes per slot" }
}
