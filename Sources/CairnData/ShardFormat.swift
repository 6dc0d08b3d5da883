/// The header stored before each shard's bytes on a target, so a target can be checked,
/// repaired and restored from without any other state.
///
/// Layout, version 2: `"CRNS" | version u8 = 2 | repository id (16) | pack id (32) |
/// index u8 | k u8 | n u8 | pack length u32 | shard length u32` (64 bytes), then the
/// shard bytes. Version 1 (still read, as "repository unknown") has no repository id
/// (48 bytes).
public struct ShardHeader: Sendable, Equatable {
    /// The length of a header of the current version; `encodedSize` is this header's own.
    public static let size = 64
    /// The length of a version 1 header.
    public static let sizeVersion1 = 48
    static let magic: [UInt8] = Array("CRNS".utf8)
    static let version: UInt8 = 2

    /// The repository the shard was written for; nil for version 1 headers.
    public let repository: RepositoryID?
    public let pack: PackID
    public let index: Int
    public let k: Int
    public let n: Int
    public let packLength: Int
    public let shardLength: Int

    public init(repository: RepositoryID?, pack: PackID, index: Int, k: Int, n: Int, packLength: Int, shardLength: Int) {
        precondition(index < n && k <= n && n <= Limits.shardCountMax, "shard \(index) of k=\(k) n=\(n)")
        self.repository = repository
        self.pack = pack
        self.index = index
        self.k = k
        self.n = n
        self.packLength = packLength
        self.shardLength = shardLength
    }

    public init(record: PackRecord, index: Int, repository: RepositoryID?) {
        self.init(repository: repository, pack: record.id, index: index, k: record.k, n: record.n,
                  packLength: record.packLength, shardLength: record.shardLength)
    }

    /// Bytes this header takes before the shard: 64, or 48 for a version 1 header.
    public var encodedSize: Int { repository == nil ? Self.sizeVersion1 : Self.size }

    /// Whether this is a header of shard `index` of `record`, written for `repository`
    /// (a version 1 header, or an unknown `repository`, is of any repository).
    public func describes(_ record: PackRecord, index: Int, repository ours: RepositoryID?) -> Bool {
        pack == record.id && self.index == index && k == record.k && n == record.n
            && packLength == record.packLength && shardLength == record.shardLength
            && (repository == nil || ours == nil || repository == ours)
    }

    /// Version 2 with a repository id; version 1 without (only tests write that one:
    /// shards are stored with the repository's id).
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: encodedSize)
        w.raw(Self.magic)
        if let repository {
            w.u8(Self.version)
            repository.encode(into: &w)
        } else {
            w.u8(1)
        }
        w.raw(pack.bytes)
        w.u8(UInt8(index))
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u32(UInt32(packLength))
        w.u32(UInt32(shardLength))
        assert(w.bytes.count == encodedSize)
        return w.bytes
    }

    /// Reads the header at the start of `bytes` (what follows it is not looked at).
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes, what: "shard header")
        guard try r.raw(4) == Self.magic else { throw r.fail("bad magic") }
        let v = try r.u8()
        guard v == 1 || v == Self.version else { throw r.fail("shard version \(v) is not supported (this build reads 1 and 2)") }
        let repository = v >= 2 ? try RepositoryID(reading: &r) : nil
        let pack = try ObjectID(reading: &r)
        let index = Int(try r.u8())
        let k = Int(try r.u8())
        let n = Int(try r.u8())
        guard k >= 1, k <= n, index < n else { throw r.fail("impossible geometry index=\(index) k=\(k) n=\(n)") }
        let packLength = Int(try r.u32())
        let shardLength = Int(try r.u32())
        guard packLength <= Limits.packMax, shardLength <= Limits.packMax else { throw r.fail("impossible lengths") }
        self.init(repository: repository, pack: pack, index: index, k: k, n: n, packLength: packLength, shardLength: shardLength)
    }

    /// Reads the header at the start of a stored value; nil when it is not a sound one.
    static func decode(prefixOf value: UnsafeRawBufferPointer) -> ShardHeader? {
        try? ShardHeader(decoding: Array(value.prefix(size)))
    }
}
