import CairnCrypto
import Dispatch
import Foundation
import Synchronization

/// A pack being filled with sealed chunks.
struct PackBuilder {
    private(set) var id = PackID.random()
    private(set) var bytes: [UInt8] = []
    private(set) var refs: [ChunkRef] = []

    init() { bytes.reserveCapacity(Limits.packTarget + 4 * 1024 * 1024) }

    var isEmpty: Bool { refs.isEmpty }
    var isFull: Bool { bytes.count >= Limits.packTarget }

    mutating func append(id chunk: ChunkID, sealed: [UInt8], plainLength: Int) -> ChunkRef {
        precondition(bytes.count + sealed.count <= Limits.packMax, "pack \(id) would exceed \(Limits.packMax) bytes")
        let ref = ChunkRef(id: chunk, pack: id, offset: UInt32(bytes.count), sealedLength: UInt32(sealed.count),
                           plainLength: UInt32(plainLength))
        bytes.append(contentsOf: sealed)
        refs.append(ref)
        return ref
    }

    mutating func take() -> (PackID, [UInt8], [ChunkRef]) {
        let out = (id, bytes, refs)
        self = PackBuilder()
        return out
    }
}

/// Erasure-codes full packs, computes each shard's Merkle root, writes shard i to
/// target i and records the pack in the local index — on a background queue, so the
/// next batch is hashed and sealed meanwhile. At most `depth` packs wait, which bounds
/// memory whatever the size of the backup.
final class PackWriter: @unchecked Sendable {
    private let coder: ErasureCoder
    private let targets: TargetSet
    private let state: LocalState
    private let queue = DispatchQueue(label: "cairn.pack-writer")
    private let slots: DispatchSemaphore
    private let failure = Mutex<DataError?>(nil)
    private let written = Mutex<(packs: Int, shardBytes: Int)>((0, 0))

    init(coder: ErasureCoder, targets: TargetSet, state: LocalState, depth: Int = 1) {
        precondition(coder.n == targets.n, "coder n=\(coder.n) but \(targets.n) targets")
        self.coder = coder
        self.targets = targets
        self.state = state
        self.slots = DispatchSemaphore(value: depth)
    }

    var stats: (packs: Int, shardBytes: Int) { written.withLock { $0 } }

    /// Queues a pack; blocks while `depth` packs are already waiting. Throws the first
    /// failure of an earlier pack.
    func submit(id: PackID, bytes: [UInt8], refs: [ChunkRef]) throws(DataError) {
        if let e = failure.withLock({ $0 }) { throw e }
        slots.wait()
        let job = UncheckedBox((id, bytes, refs))
        queue.async {
            defer { self.slots.signal() }
            guard self.failure.withLock({ $0 }) == nil else { return }
            let (id, bytes, refs) = job.value
            do {
                try self.write(id: id, bytes: bytes, refs: refs)
            } catch let e {
                let d = e as? DataError ?? DataError(.io, "writing pack \(id) failed", cause: e)
                self.failure.withLock { $0 = $0 ?? d }
            }
        }
    }

    /// Waits for every queued pack and throws the first failure.
    func finish() throws(DataError) {
        queue.sync {}
        if let e = failure.withLock({ $0 }) { throw e }
    }

    private func write(id: PackID, bytes: [UInt8], refs: [ChunkRef]) throws(DataError) {
        let shards = bytes.withUnsafeBytes { coder.encode($0) }
        let shardLength = shards[0].count
        let roots = parallelMap(shards.count) { i in
            shards[i].withUnsafeBytes { MerkleTree.root(of: $0, segmentSize: Limits.merkleSegment) }
        }
        let record = PackRecord(id: id, k: coder.k, n: coder.n, packLength: bytes.count, shardLength: shardLength,
                                segmentSize: Limits.merkleSegment, roots: roots)
        let results = parallelMap(shards.count) { i -> DataError? in
            guard let target = targets.targets[i] else {
                return DataError(.targetUnavailable, "target \(i + 1) (\(targets.paths[i])) is not available")
            }
            do {
                try shards[i].withUnsafeBytes { try target.putShard(header: ShardHeader(record: record, index: i), bytes: $0) }
                return nil
            } catch {
                return error as? DataError ?? DataError(.io, "writing shard \(i) failed", cause: error)
            }
        }
        if let e = results.compactMap({ $0 }).first { throw e }
        try state.commitPack(record, chunks: refs)
        let added = shardLength * shards.count
        written.withLock { (w: inout (packs: Int, shardBytes: Int)) in
            w.packs += 1
            w.shardBytes += added
        }
    }
}
