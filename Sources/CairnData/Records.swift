/// What the owner keeps about one pack: its geometry and the Merkle root of every
/// shard, which backs challenges and tells a good shard from a damaged one.
public struct PackRecord: Sendable, Equatable {
    public let id: PackID
    public let k: Int
    public let n: Int
    public let packLength: Int
    public let shardLength: Int
    public let segmentSize: Int
    public let roots: [[UInt8]]

    public init(id: PackID, k: Int, n: Int, packLength: Int, shardLength: Int, segmentSize: Int, roots: [[UInt8]]) {
        precondition(k >= 1 && k <= n && n <= Limits.shardCountMax, "pack geometry k=\(k) n=\(n)")
        precondition(roots.count == n && roots.allSatisfy { $0.count == 32 }, "pack \(id) has \(roots.count) roots for n=\(n)")
        self.id = id
        self.k = k
        self.n = n
        self.packLength = packLength
        self.shardLength = shardLength
        self.segmentSize = segmentSize
        self.roots = roots
    }

    public func encode(into w: inout ByteWriter) {
        w.raw(id.bytes)
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u32(UInt32(packLength))
        w.u32(UInt32(shardLength))
        w.u32(UInt32(segmentSize))
        for r in roots { w.raw(r) }
    }

    /// A pack record stored alone (a value of the local index): nothing may follow it.
    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes, what: "pack record")
        try self.init(reading: &r)
        try r.expectEnd()
    }

    public init(reading r: inout ByteReader) throws(DecodeError) {
        let id = try ObjectID(reading: &r)
        let k = Int(try r.u8())
        let n = Int(try r.u8())
        guard k >= 1, k <= n else { throw r.fail("pack \(id) has impossible geometry k=\(k) n=\(n)") }
        let packLength = Int(try r.u32())
        let shardLength = Int(try r.u32())
        let segmentSize = Int(try r.u32())
        guard packLength <= Limits.packMax, shardLength <= Limits.packMax, segmentSize > 0,
              shardLength * k >= packLength
        else { throw r.fail("pack \(id) has impossible lengths") }
        var roots: [[UInt8]] = []
        for _ in 0..<n { roots.append(try r.raw(32)) }
        self.init(id: id, k: k, n: n, packLength: packLength, shardLength: shardLength, segmentSize: segmentSize, roots: roots)
    }
}

/// One snapshot: when, from where, and the chunks holding its encoded tree.
public struct SnapshotRecord: Sendable, Equatable {
    public let id: String
    public let time: Int64
    public let hostname: String
    public let paths: [String]
    public let tree: [ChunkRef]
    public let parent: String
    public let files: UInt64
    public let directories: UInt64
    public let symlinks: UInt64
    public let bytes: UInt64
    public let newBytes: UInt64
    /// Which subkey keyed the ids of the tree's chunks (an `OwnerKeys` subkey id): 5, the
    /// tree-id key, from root record version 2 on; 4, the snapshot key, before.
    public let treeIDSubkey: UInt8

    /// The tree-id subkey of snapshots made now, and the one of root records of version 1.
    public static let treeIDSubkeyCurrent: UInt8 = 5
    public static let treeIDSubkeyLegacy: UInt8 = 4

    public init(
        id: String, time: Int64, hostname: String, paths: [String], tree: [ChunkRef], parent: String,
        files: UInt64, directories: UInt64, symlinks: UInt64, bytes: UInt64, newBytes: UInt64,
        treeIDSubkey: UInt8 = SnapshotRecord.treeIDSubkeyCurrent
    ) {
        self.id = id
        self.time = time
        self.hostname = hostname
        self.paths = paths
        self.tree = tree
        self.parent = parent
        self.files = files
        self.directories = directories
        self.symlinks = symlinks
        self.bytes = bytes
        self.newBytes = newBytes
        self.treeIDSubkey = treeIDSubkey
    }

    public func encode(into w: inout ByteWriter) {
        w.string(id)
        w.i64(time)
        w.string(hostname)
        w.u32(UInt32(paths.count))
        for p in paths { w.string(p) }
        w.u32(UInt32(tree.count))
        for c in tree { c.encode(into: &w) }
        w.string(parent)
        w.u64(files)
        w.u64(directories)
        w.u64(symlinks)
        w.u64(bytes)
        w.u64(newBytes)
        w.u8(treeIDSubkey)
    }

    /// Reads a snapshot of a root record of `version` (1 has no tree-id subkey field).
    public init(reading r: inout ByteReader, version: UInt8) throws(DecodeError) {
        id = try r.string(max: 64)
        time = try r.i64()
        hostname = try r.string(max: 1024)
        let np = try r.count(max: 100_000)
        var paths: [String] = []
        for _ in 0..<np { paths.append(try r.string(max: Limits.pathMax)) }
        self.paths = paths
        let nt = try r.count(max: r.remaining / ChunkRef.encodedSize)
        var tree: [ChunkRef] = []
        for _ in 0..<nt { tree.append(try ChunkRef(reading: &r)) }
        self.tree = tree
        parent = try r.string(max: 64)
        files = try r.u64()
        directories = try r.u64()
        symlinks = try r.u64()
        bytes = try r.u64()
        newBytes = try r.u64()
        if version >= 2 {
            treeIDSubkey = try r.u8()
            guard treeIDSubkey == Self.treeIDSubkeyLegacy || treeIDSubkey == Self.treeIDSubkeyCurrent else {
                throw r.fail("snapshot \(id) names tree-id subkey \(treeIDSubkey), which is neither 4 nor 5")
            }
        } else {
            treeIDSubkey = Self.treeIDSubkeyLegacy
        }
    }
}

/// Everything needed to find a backup again from the phrase alone: the snapshots, every
/// pack with its shard roots, and the parameters later backups must keep using so they
/// dedupe against earlier ones. Replicated, sealed and signed, to every target.
public struct RootRecord: Sendable, Equatable {
    /// The repository this record describes; nil for records of version 1 and 2, made
    /// before repositories had ids ("repository unknown").
    public var repository: RepositoryID?
    public var sequence: UInt64
    public var chunker: ChunkerSettings
    public var snapshots: [SnapshotRecord]
    public var packs: [PackRecord]

    public init(repository: RepositoryID? = nil, sequence: UInt64, chunker: ChunkerSettings, snapshots: [SnapshotRecord],
                packs: [PackRecord]) {
        self.repository = repository
        self.sequence = sequence
        self.chunker = chunker
        self.snapshots = snapshots
        self.packs = packs
    }

    static let magic: [UInt8] = Array("CRNP".utf8)
    /// Version 3 adds the repository id; version 2 each snapshot's tree-id subkey.
    /// Versions 1 and 2 are still read (as "repository unknown").
    static let version: UInt8 = 3
    static let versionsRead: ClosedRange<UInt8> = 1...3
    /// The version a record without a repository id is written as (into the local index
    /// only: a record is published to targets only with an id).
    static let versionWithoutRepository: UInt8 = 2

    /// The newest snapshot's time (0 without snapshots): how "newest repository" is judged.
    public var newestSnapshotTime: Int64 { snapshots.map(\.time).max() ?? 0 }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 1024 + packs.count * (48 + 32 * 5))
        w.raw(Self.magic)
        if let repository {
            w.u8(Self.version)
            repository.encode(into: &w)
        } else {
            w.u8(Self.versionWithoutRepository)
        }
        w.u64(sequence)
        chunker.encode(into: &w)
        w.u32(UInt32(snapshots.count))
        for s in snapshots { s.encode(into: &w) }
        w.u32(UInt32(packs.count))
        for p in packs { p.encode(into: &w) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> RootRecord {
        var r = ByteReader(bytes, what: "root record")
        guard try r.raw(4) == magic else { throw r.fail("bad magic") }
        let v = try r.u8()
        guard versionsRead.contains(v) else {
            throw r.fail("root record version \(v) is not supported (this build reads \(versionsRead.lowerBound) to \(versionsRead.upperBound)); a newer cairn wrote it")
        }
        let repository = v >= 3 ? try RepositoryID(reading: &r) : nil
        let seq = try r.u64()
        let chunker = try ChunkerSettings(reading: &r)
        let ns = try r.count(max: Limits.snapshotsMax)
        var snapshots: [SnapshotRecord] = []
        for _ in 0..<ns { snapshots.append(try SnapshotRecord(reading: &r, version: v)) }
        let np = try r.count(max: min(Limits.packsMax, r.remaining / 48))
        var packs: [PackRecord] = []
        packs.reserveCapacity(np)
        for _ in 0..<np { packs.append(try PackRecord(reading: &r)) }
        try r.expectEnd()
        return RootRecord(repository: repository, sequence: seq, chunker: chunker, snapshots: snapshots, packs: packs)
    }
}

/// The chunker parameters a repository was created with; kept in the root record so a
/// recovered machine cuts files the same way and dedupes against old snapshots.
public struct ChunkerSettings: Sendable, Equatable {
    public var minSize: Int
    public var avgSize: Int
    public var maxSize: Int
    public var normalization: Int

    public init(minSize: Int, avgSize: Int, maxSize: Int, normalization: Int) {
        self.minSize = minSize
        self.avgSize = avgSize
        self.maxSize = maxSize
        self.normalization = normalization
    }

    public init(_ p: ChunkerParameters) {
        self.init(minSize: p.minSize, avgSize: p.avgSize, maxSize: p.maxSize, normalization: p.normalization)
    }

    public func parameters() throws(ChunkerError) -> ChunkerParameters {
        try ChunkerParameters(minSize: minSize, avgSize: avgSize, maxSize: maxSize, normalization: normalization)
    }

    func encode(into w: inout ByteWriter) {
        w.u32(UInt32(minSize))
        w.u32(UInt32(avgSize))
        w.u32(UInt32(maxSize))
        w.u8(UInt8(normalization))
    }

    init(reading r: inout ByteReader) throws(DecodeError) {
        minSize = Int(try r.u32())
        avgSize = Int(try r.u32())
        maxSize = Int(try r.u32())
        normalization = Int(try r.u8())
        guard maxSize <= Limits.chunkMax, minSize <= avgSize, avgSize <= maxSize else {
            throw r.fail("impossible chunker settings \(minSize)/\(avgSize)/\(maxSize)")
        }
    }
}
