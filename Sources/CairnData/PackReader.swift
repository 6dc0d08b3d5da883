import CairnCrypto

/// Fetches packs from the targets and chunks out of packs. The fast path reads the k
/// data shards (the pack itself, split in order); when one is missing, or a chunk fails
/// to authenticate, every shard is checked against its Merkle root and the pack is
/// rebuilt from any k good ones.
final class PackReader: @unchecked Sendable {
    private let targets: TargetSet
    private let packs: [PackID: PackRecord]
    private var cache: [(PackID, [UInt8])] = []
    private let cacheSize = 3
    private(set) var rebuiltPacks = 0
    /// Shards found damaged or unreadable while rebuilding packs, by target path.
    private(set) var damagedShards: [String: Int] = [:]

    init(targets: TargetSet, packs: [PackRecord]) {
        self.targets = targets
        self.packs = Dictionary(packs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The bytes of one chunk, decrypted and decompressed.
    func chunk(_ ref: ChunkRef, key: SymmetricKey) throws(DataError) -> [UInt8] {
        let pack = try self.pack(ref.pack, verify: false)
        do {
            return try open(ref, in: pack, key: key)
        } catch {
            // The fast path trusts data shards; a damaged one shows up here. Check every
            // shard against its root and rebuild from good ones.
            drop(ref.pack)
            let verified = try self.pack(ref.pack, verify: true)
            return try open(ref, in: verified, key: key)
        }
    }

    /// Several chunks at once: their packs are fetched in order, then the chunks are
    /// decrypted on all cores. A chunk that fails goes through the careful path alone.
    func chunks(_ refs: [ChunkRef], key: SymmetricKey) throws(DataError) -> [[UInt8]] {
        var packs: [PackID: [UInt8]] = [:]
        for ref in refs where packs[ref.pack] == nil { packs[ref.pack] = try pack(ref.pack, verify: false) }
        let opened = parallelMap(refs.count) { i in
            Result { () throws(DataError) in try self.open(refs[i], in: packs[refs[i].pack]!, key: key) }
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(refs.count)
        for (i, r) in opened.enumerated() {
            switch r {
            case .success(let bytes): out.append(bytes)
            case .failure: out.append(try chunk(refs[i], key: key))
            }
        }
        return out
    }

    private func open(_ ref: ChunkRef, in pack: [UInt8], key: SymmetricKey) throws(DataError) -> [UInt8] {
        let start = Int(ref.offset)
        let end = start + Int(ref.sealedLength)
        guard end <= pack.count else {
            throw DataError(.corrupt, "chunk \(ref.id) lies outside pack \(ref.pack) (\(end) > \(pack.count) bytes)")
        }
        let result = pack.withUnsafeBytes { b in
            Result { () throws(DataError) in
                try ChunkSealer.open(UnsafeRawBufferPointer(rebasing: b[start..<end]), id: ref.id, key: key,
                                     plainLength: Int(ref.plainLength))
            }
        }
        return try result.get()
    }

    private func drop(_ id: PackID) { cache.removeAll { $0.0 == id } }

    func pack(_ id: PackID, verify: Bool) throws(DataError) -> [UInt8] {
        if !verify, let hit = cache.first(where: { $0.0 == id }) { return hit.1 }
        guard let record = packs[id] else {
            throw DataError(.notFound, "pack \(id) is not listed in the root record")
        }
        let bytes: [UInt8]
        if !verify, let fast = fast(record) { bytes = fast } else { bytes = try rebuild(record) }
        cache.append((id, bytes))
        if cache.count > cacheSize { cache.removeFirst() }
        return bytes
    }

    private func fast(_ record: PackRecord) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(record.shardLength * record.k)
        for i in 0..<record.k {
            guard let t = targets.target(forShard: i),
                  t.appendShard(record, index: i, repository: targets.repository, to: &out) else { return nil }
        }
        out.removeLast(out.count - record.packLength)
        return out
    }

    /// Shards of `record` that match their Merkle roots, by index.
    func goodShards(_ record: PackRecord) -> (good: [Int: [UInt8]], bad: [Int: String]) {
        var good: [Int: [UInt8]] = [:]
        var bad: [Int: String] = [:]
        for i in 0..<record.n {
            guard let t = targets.target(forShard: i) else {
                bad[i] = "no target holding shard \(i + 1) is available"
                continue
            }
            do {
                guard let s = try t.readShard(pack: record.id, index: i) else {
                    bad[i] = "missing on target \(t.path)"
                    continue
                }
                if let theirs = s.header.repository, let ours = targets.repository, theirs != ours {
                    bad[i] = "on target \(t.path) it is a shard of another repository (\(theirs))"
                    continue
                }
                let ok = s.header.describes(record, index: i, repository: targets.repository)
                    && s.bytes.count == record.shardLength
                    && s.bytes.withUnsafeBytes { MerkleTree.root(of: $0, segmentSize: record.segmentSize) } == record.roots[i]
                if ok { good[i] = s.bytes } else { bad[i] = "damaged on target \(t.path)" }
            } catch {
                bad[i] = "unreadable on target \(t.path) (\(error.oneLine))"
            }
        }
        return (good, bad)
    }

    private func rebuild(_ record: PackRecord) throws(DataError) -> [UInt8] {
        let (good, bad) = goodShards(record)
        for i in bad.keys { if let t = targets.target(forShard: i) { damagedShards[t.path, default: 0] += 1 } }
        guard good.count >= record.k else {
            let why = bad.keys.sorted().map { "shard \($0): \(bad[$0]!)" }.joined(separator: "; ")
            throw DataError(.unrecoverable, "pack \(record.id) has \(good.count) good shards of the \(record.k) needed (\(why))")
        }
        rebuiltPacks += 1
        do {
            let coder = try ErasureCoder(k: record.k, n: record.n)
            return try coder.reconstruct(shards: good, originalLength: record.packLength)
        } catch {
            throw DataError(.unrecoverable, "pack \(record.id) could not be decoded", cause: error)
        }
    }
}
