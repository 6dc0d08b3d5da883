import CairnCrypto
import CairnStore

/// The data directory's own index (an LMDB environment): which chunks are stored where,
/// every pack written, the latest root record and a cache of snapshot trees. All of it
/// can be rebuilt from the targets and the phrase; it exists to make backups fast and to
/// let an interrupted backup resume without re-sending what was stored.
public final class LocalState: @unchecked Sendable {
    private let env: LMDBEnvironment
    private let chunks: LMDBDatabase
    private let packs: LMDBDatabase
    private let meta: LMDBDatabase
    private let trees: LMDBDatabase
    public let path: String

    static let rootKey: [UInt8] = Array("root".utf8)

    public init(path: String) throws(DataError) {
        self.path = path
        do {
            env = try LMDBEnvironment(path: path, mapSize: 1 << 40, maxDatabases: 8)
            chunks = try env.openDatabase("chunks")
            packs = try env.openDatabase("packs")
            meta = try env.openDatabase("meta")
            trees = try env.openDatabase("trees")
        } catch {
            throw DataError(.io, "cannot open the local index at \(path)", cause: error)
        }
    }

    private func wrap<R>(_ what: String, _ body: () throws -> R) throws(DataError) -> R {
        do { return try body() } catch let e as DataError { throw e } catch {
            throw DataError(.io, "local index at \(path): \(what) failed", cause: error)
        }
    }

    /// Where a chunk already stored lives, if it is.
    public func lookupChunk(_ id: ChunkID) throws(DataError) -> ChunkRef? {
        try wrap("chunk lookup") {
            try env.read { txn in
                try txn.withValue(chunks, id.bytes) { v -> ChunkRef? in try Self.decodeLocation(Array(v), id: id) } ?? nil
            }
        }
    }

    /// Records a pack that is now on every target, with the chunks it holds, in one
    /// transaction: after this, those chunks are never sent again.
    public func commitPack(_ record: PackRecord, chunks refs: [ChunkRef]) throws(DataError) {
        try wrap("pack commit") {
            try env.write { txn in
                var w = ByteWriter()
                record.encode(into: &w)
                try txn.put(packs, record.id.bytes, w.bytes)
                for c in refs {
                    precondition(c.pack == record.id, "chunk \(c.id) committed with pack \(record.id) but refers to \(c.pack)")
                    try txn.put(chunks, c.id.bytes, Self.encodeLocation(c))
                }
            }
        }
    }

    /// A chunk index entry: `pack id (32) | offset u32 | sealed length u32 | plain length u32`
    /// (44 bytes; anything after them is damage, refused as `trailingBytes`).
    public static func decodeLocation(_ bytes: [UInt8], id: ChunkID) throws(DecodeError) -> ChunkRef {
        var r = ByteReader(bytes, what: "chunk index entry")
        let pack = try ObjectID(reading: &r)
        let ref = ChunkRef(id: id, pack: pack, offset: try r.u32(), sealedLength: try r.u32(), plainLength: try r.u32())
        try r.expectEnd()
        return ref
    }

    public static func encodeLocation(_ c: ChunkRef) -> [UInt8] {
        var w = ByteWriter(capacity: 44)
        w.raw(c.pack.bytes)
        w.u32(c.offset)
        w.u32(c.sealedLength)
        w.u32(c.plainLength)
        return w.bytes
    }

    /// Adds chunk locations learned from a snapshot tree (after a recovery), so the next
    /// backup dedupes against what the targets already hold.
    public func indexChunks(_ refs: [ChunkRef]) throws(DataError) {
        try wrap("chunk indexing") {
            try env.write { txn in
                for c in refs { try txn.put(chunks, c.id.bytes, Self.encodeLocation(c)) }
            }
        }
    }

    public func chunkCount() throws(DataError) -> Int {
        try wrap("chunk count") { try env.read { txn in try txn.count(chunks) } }
    }

    /// Every pack recorded, in id order.
    public func allPacks() throws(DataError) -> [PackRecord] {
        try wrap("pack listing") {
            var out: [PackRecord] = []
            try env.read { txn in
                try txn.forEach(packs, prefix: []) { _, value in
                    out.append(try PackRecord(decoding: Array(value)))
                    return true
                }
            }
            return out
        }
    }

    public func importPacks(_ records: [PackRecord]) throws(DataError) {
        try wrap("pack import") {
            try env.write { txn in
                for p in records {
                    var w = ByteWriter()
                    p.encode(into: &w)
                    try txn.put(packs, p.id.bytes, w.bytes)
                }
            }
        }
    }

    public func root() throws(DataError) -> RootRecord? {
        try wrap("root read") {
            guard let bytes = try env.read({ txn in try txn.get(meta, Self.rootKey) }) else { return nil }
            return try RootRecord.decode(bytes)
        }
    }

    public func saveRoot(_ root: RootRecord) throws(DataError) {
        try wrap("root write") {
            try env.write { txn in try txn.put(meta, Self.rootKey, root.encode()) }
        }
    }

    /// A cached tree is found by the snapshot's id and the ids of its tree chunks: a
    /// prune on another device may have stored the tree of a snapshot anew (the chunks it
    /// names moved), and the old copy must then miss rather than name removed packs.
    /// Keys of the older form (the id alone) never match and are dropped by the cleanups.
    static func treeKey(_ snapshot: SnapshotRecord) -> [UInt8] {
        Array(snapshot.id.utf8) + [0x2F] + Blake2b.hash(snapshot.tree.flatMap(\.id.bytes), outputLength: 16)
    }

    /// The snapshot id of a cache key.
    private static func snapshotID(ofTreeKey key: [UInt8]) -> String {
        String(decoding: key.prefix { $0 != 0x2F }, as: UTF8.self)
    }

    public func cachedTree(_ snapshot: SnapshotRecord) throws(DataError) -> [UInt8]? {
        try wrap("tree cache read") { try env.read { txn in try txn.get(trees, Self.treeKey(snapshot)) } }
    }

    public func cacheTree(_ snapshot: SnapshotRecord, _ blob: [UInt8]) throws(DataError) {
        try wrap("tree cache write") { try env.write { txn in try txn.put(trees, Self.treeKey(snapshot), blob) } }
    }

    /// Drops the cached trees of snapshots not in `ids` (forgotten ones).
    public func removeCachedTrees(keeping ids: Set<String>) throws(DataError) {
        try removeCachedTrees { !ids.contains($0) }
    }

    /// Drops every cached tree of these snapshots (their tree is about to be stored anew).
    public func removeCachedTrees(ids: Set<String>) throws(DataError) {
        try removeCachedTrees { ids.contains($0) }
    }

    private func removeCachedTrees(where doomed: (String) -> Bool) throws(DataError) {
        try wrap("tree cache cleanup") {
            try env.write { txn in
                var gone: [[UInt8]] = []
                try txn.forEach(trees, prefix: []) { key, _ in
                    if doomed(Self.snapshotID(ofTreeKey: key)) { gone.append(key) }
                    return true
                }
                for k in gone { try txn.delete(trees, k) }
            }
        }
    }

    /// Forgets every chunk stored in a pack not in `live` and, with `recordsToo`, those
    /// packs' records: a prune does the first before it removes packs (so nothing new is
    /// deduplicated against them) and the second once the root record no longer names them.
    public func removePacks(keeping live: Set<PackID>, recordsToo: Bool = true) throws(DataError) {
        try wrap("pack removal") {
            try env.write { txn in
                var gone: [[UInt8]] = []
                try txn.forEach(chunks, prefix: []) { key, value in
                    if value.count >= 32, !live.contains(ObjectID(Array(value[..<32]))) { gone.append(key) }
                    return true
                }
                for k in gone { try txn.delete(chunks, k) }
                guard recordsToo else { return }
                gone = []
                try txn.forEach(packs, prefix: []) { key, _ in
                    if key.count == 32, !live.contains(ObjectID(key)) { gone.append(key) }
                    return true
                }
                for k in gone { try txn.delete(packs, k) }
            }
        }
    }
}
