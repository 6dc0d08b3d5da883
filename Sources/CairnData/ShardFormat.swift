/// The header stored before each shard's bytes on a target, so a target can be checked,
/// repaired and restored from without any other state.
///
/// Layout: `"CRNS" | version u8 | pack id (32) | index u8 | k u8 | n u8 |
/// pack length u32 | shard length u32` (48 bytes), then the shard bytes.
public struct ShardHeader: Sendable, Equatable {
    public static let size = 48
    static let magic: [UInt8] = Array("CRNS".utf8)
    static let version: UInt8 = 1

    public let pack: PackID
    public let index: Int
    public let k: Int
    public let n: Int
    public let packLength: Int
    public let shardLength: Int

    public init(pack: PackID, index: Int, k: Int, n: Int, packLength: Int, shardLength: Int) {
        precondition(index < n && k <= n && n <= Limits.shardCountMax, "shard \(index) of k=\(k) n=\(n)")
        self.pack = pack
        self.index = index
        self.k = k
        self.n = n
        self.packLength = packLength
        self.shardLength = shardLength
    }

    public init(record: PackRecord, index: Int) {
        self.init(pack: record.id, index: index, k: record.k, n: record.n,
                  packLength: record.packLength, shardLength: record.shardLength)
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: Self.size)
        w.raw(Self.magic)
        w.u8(Self.version)
        w.raw(pack.bytes)
        w.u8(UInt8(index))
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u32(UInt32(packLength))
        w.u32(UInt32(shardLength))
        assert(w.bytes.count == Self.size)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes, what: "shard header")
        guard try r.raw(4) == Self.magic else { throw r.fail("bad magic") }
        let v = try r.u8()
        guard v == Self.version else { throw r.fail("shard version \(v) is not supported") }
        let pack = try ObjectID(reading: &r)
        let index = Int(try r.u8())
        let k = Int(try r.u8())
        let n = Int(try r.u8())
        guard k >= 1, k <= n, index < n else { throw r.fail("impossible geometry index=\(index) k=\(k) n=\(n)") }
        let packLength = Int(try r.u32())
        let shardLength = Int(try r.u32())
        guard packLength <= Limits.packMax, shardLength <= Limits.packMax else { throw r.fail("impossible lengths") }
        self.init(pack: pack, index: index, k: k, n: n, packLength: packLength, shardLength: shardLength)
    }
}
