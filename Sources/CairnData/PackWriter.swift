import CairnCrypto
import Dispatch
import Foundation
import Logging
import Synchronization

/// One reusable area holding a pack while it fills and then all n of its shards: sealed
/// chunks are appended at the front (the k data shards are the pack itself, split in
/// order), and parity is computed in place behind them. Reusing two of these for every
/// pack keeps memory flat and spares the allocator and the page-fault handler.
final class PackBuffer: @unchecked Sendable {
    let memory: UnsafeMutableRawBufferPointer
    /// Largest pack this buffer accepts.
    let packCapacity: Int
    private(set) var id = PackID.random()
    private(set) var length = 0
    private(set) var refs: [ChunkRef] = []

    init(k: Int, n: Int, packCapacity: Int) {
        self.packCapacity = packCapacity
        let shardMax = (packCapacity + k - 1) / k
        memory = .allocate(byteCount: n * shardMax, alignment: 64)
    }

    deinit { memory.deallocate() }

    var isEmpty: Bool { refs.isEmpty }

    func append(id chunk: ChunkID, sealed: [UInt8], plainLength: Int) -> ChunkRef {
        precondition(length + sealed.count <= packCapacity, "pack \(id) of \(length) bytes cannot take \(sealed.count) more (capacity \(packCapacity))")
        let ref = ChunkRef(id: chunk, pack: id, offset: UInt32(length), sealedLength: UInt32(sealed.count),
                           plainLength: UInt32(plainLength))
        sealed.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: memory[length..<length + $0.count]).copyMemory(from: $0) }
        length += sealed.count
        refs.append(ref)
        return ref
    }

    func reset() {
        id = PackID.random()
        length = 0
        refs.removeAll(keepingCapacity: true)
    }
}

/// Erasure-codes full packs, computes each shard's Merkle root, writes shard i to
/// target i and records the pack in the local index, in a pipeline beside the backup
/// loop: one queue encodes (parity + Merkle roots, CPU), one queue per target stores
/// (an LMDB transaction with its fsync, I/O), and a last queue records finished packs
/// in order. A few pack buffers circulate between the loop and this pipeline, which
/// bounds memory whatever the size of the backup.
final class PackWriter: @unchecked Sendable {
    private let coder: ErasureCoder
    /// The repository every shard header names.
    private let repository: RepositoryID
    private let targets: TargetSet
    private let state: LocalState
    private let logger: Logger
    private let encodeQueue = DispatchQueue(label: "cairn.pack-encode")
    private let targetQueues: [DispatchQueue]
    private let commitQueue = DispatchQueue(label: "cairn.pack-commit")
    private let free = NSCondition()
    private var spare: [PackBuffer]  // guarded by `free`
    private let failure = Mutex<DataError?>(nil)
    private let written = Mutex<(packs: Int, shardBytes: Int)>((0, 0))
    let packTarget: Int

    /// `packTarget`: a pack is closed before it would grow past this; a single sealed
    /// chunk of up to `sealedChunkMax` bytes always fits an empty pack.
    init(coder: ErasureCoder, repository: RepositoryID, targets: TargetSet, state: LocalState, logger: Logger,
         packTarget: Int = Limits.packTarget, sealedChunkMax: Int, buffers: Int = 3) {
        precondition(coder.n == targets.n, "coder n=\(coder.n) but \(targets.n) targets")
        precondition(buffers >= 1, "pack writer with \(buffers) buffers")
        self.coder = coder
        self.repository = repository
        self.targets = targets
        self.state = state
        self.logger = logger
        self.packTarget = packTarget
        targetQueues = (0..<coder.n).map { DispatchQueue(label: "cairn.target-\($0 + 1)") }
        let capacity = max(packTarget, sealedChunkMax)
        spare = (0..<buffers).map { _ in PackBuffer(k: coder.k, n: coder.n, packCapacity: capacity) }
    }

    var stats: (packs: Int, shardBytes: Int) { written.withLock { $0 } }

    /// An empty buffer to fill; waits while every buffer is in the pipeline.
    func acquire() -> PackBuffer {
        free.lock()
        defer { free.unlock() }
        while spare.isEmpty { free.wait() }
        return spare.removeLast()
    }

    private func release(_ buffer: PackBuffer) {
        buffer.reset()
        free.lock()
        spare.append(buffer)
        free.signal()
        free.unlock()
    }

    private var failed: Bool { failure.withLock { $0 != nil } }

    private func fail(_ error: DataError) {
        logger.error("pack.write.failed", metadata: ["error": "\(error.message)"])
        failure.withLock { $0 = $0 ?? error }
    }

    /// Queues a filled buffer. Throws the first failure of an earlier pack.
    func submit(_ buffer: PackBuffer) throws(DataError) {
        if let e = failure.withLock({ $0 }) {
            release(buffer)
            throw e
        }
        encodeQueue.async {
            guard !self.failed else { return self.release(buffer) }
            let record = self.encode(buffer)
            self.store(buffer, record)
        }
    }

    /// Waits for every queued pack and throws the first failure.
    func finish() throws(DataError) {
        encodeQueue.sync {}
        for q in targetQueues { q.sync {} }
        commitQueue.sync {}
        if let e = failure.withLock({ $0 }) { throw e }
    }

    private func shard(_ buffer: PackBuffer, _ i: Int, _ size: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer.memory[i * size..<(i + 1) * size])
    }

    /// Parity in place behind the data, then every shard's Merkle root.
    private func encode(_ buffer: PackBuffer) -> PackRecord {
        let (k, n) = (coder.k, coder.n)
        let size = coder.shardSize(forLength: buffer.length)
        buffer.memory[buffer.length..<k * size].initializeMemory(as: UInt8.self, repeating: 0)
        coder.encodeInPlace(buffer.memory, shardSize: size)
        let roots = parallelMap(n) { MerkleTree.root(of: shard(buffer, $0, size), segmentSize: Limits.merkleSegment) }
        return PackRecord(id: buffer.id, k: k, n: n, packLength: buffer.length, shardLength: size,
                          segmentSize: Limits.merkleSegment, roots: roots)
    }

    /// Shard i to target i, all targets at once; once all are durable, the pack and its
    /// chunks go into the local index (in pack order) and the buffer is free again.
    private func store(_ buffer: PackBuffer, _ record: PackRecord) {
        let group = DispatchGroup()
        for i in 0..<record.n {
            targetQueues[i].async(group: group) {
                guard !self.failed else { return }
                guard let target = self.targets.target(forShard: i) else {
                    return self.fail(DataError(.targetUnavailable, "no target for shard \(i + 1) is available"))
                }
                do throws(DataError) {
                    try target.putShard(header: ShardHeader(record: record, index: i, repository: self.repository),
                                        bytes: self.shard(buffer, i, record.shardLength))
                } catch {
                    self.fail(error)
                }
            }
        }
        group.notify(queue: commitQueue) {
            defer { self.release(buffer) }
            guard !self.failed else { return }
            do throws(DataError) {
                try self.state.commitPack(record, chunks: buffer.refs)
            } catch {
                return self.fail(error)
            }
            self.logger.debug("pack.committed", metadata: [
                "pack.id": "\(record.id)", "pack.bytes": "\(record.packLength)", "chunks": "\(buffer.refs.count)",
            ])
            self.written.withLock { (w: inout (packs: Int, shardBytes: Int)) in
                w.packs += 1
                w.shardBytes += record.shardLength * record.n
            }
        }
    }
}
