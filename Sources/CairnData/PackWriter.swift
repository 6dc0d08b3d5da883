import CairnCrypto
import Dispatch
import Foundation
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

    func fits(_ count: Int) -> Bool { length + count <= packCapacity }

    func append(id chunk: ChunkID, sealed: [UInt8], plainLength: Int) -> ChunkRef {
        precondition(fits(sealed.count), "pack \(id) of \(length) bytes cannot take \(sealed.count) more (capacity \(packCapacity))")
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
/// target i and records the pack in the local index — on a background queue, so the
/// next batch is hashed and sealed meanwhile. Two pack buffers circulate between the
/// backup loop and this writer, which bounds memory whatever the size of the backup.
final class PackWriter: @unchecked Sendable {
    private let coder: ErasureCoder
    private let targets: TargetSet
    private let state: LocalState
    private let queue = DispatchQueue(label: "cairn.pack-writer")
    private let free = NSCondition()
    private var spare: [PackBuffer]  // guarded by `free`
    private let failure = Mutex<DataError?>(nil)
    private let written = Mutex<(packs: Int, shardBytes: Int)>((0, 0))
    let packTarget: Int

    /// `packTarget`: a pack is closed before it would grow past this; a single sealed
    /// chunk of up to `sealedChunkMax` bytes always fits an empty pack.
    init(coder: ErasureCoder, targets: TargetSet, state: LocalState, packTarget: Int = Limits.packTarget,
         sealedChunkMax: Int, buffers: Int = 2) {
        precondition(coder.n == targets.n, "coder n=\(coder.n) but \(targets.n) targets")
        precondition(buffers >= 1, "pack writer with \(buffers) buffers")
        self.coder = coder
        self.targets = targets
        self.state = state
        self.packTarget = packTarget
        let capacity = max(packTarget, sealedChunkMax)
        spare = (0..<buffers).map { _ in PackBuffer(k: coder.k, n: coder.n, packCapacity: capacity) }
    }

    var stats: (packs: Int, shardBytes: Int) { written.withLock { $0 } }

    /// An empty buffer to fill; waits while every buffer is being written.
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

    /// Queues a filled buffer. Throws the first failure of an earlier pack.
    func submit(_ buffer: PackBuffer) throws(DataError) {
        if let e = failure.withLock({ $0 }) {
            release(buffer)
            throw e
        }
        queue.async {
            defer { self.release(buffer) }
            guard self.failure.withLock({ $0 }) == nil else { return }
            do {
                try self.write(buffer)
            } catch let e {
                let d = e as? DataError ?? DataError(.io, "writing pack \(buffer.id) failed", cause: e)
                self.failure.withLock { $0 = $0 ?? d }
            }
        }
    }

    /// Waits for every queued pack and throws the first failure.
    func finish() throws(DataError) {
        queue.sync {}
        if let e = failure.withLock({ $0 }) { throw e }
    }

    private func write(_ buffer: PackBuffer) throws(DataError) {
        let (k, n) = (coder.k, coder.n)
        let size = coder.shardSize(forLength: buffer.length)
        let memory = buffer.memory
        memory[buffer.length..<k * size].initializeMemory(as: UInt8.self, repeating: 0)
        coder.encodeInPlace(memory, shardSize: size)
        func shard(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: memory[i * size..<(i + 1) * size]) }
        let roots = parallelMap(n) { MerkleTree.root(of: shard($0), segmentSize: Limits.merkleSegment) }
        let record = PackRecord(id: buffer.id, k: k, n: n, packLength: buffer.length, shardLength: size,
                                segmentSize: Limits.merkleSegment, roots: roots)
        let results = parallelMap(n) { i -> DataError? in
            guard let target = targets.targets[i] else {
                return DataError(.targetUnavailable, "target \(i + 1) (\(targets.paths[i])) is not available")
            }
            let put = Result { () throws(DataError) in
                try target.putShard(header: ShardHeader(record: record, index: i), bytes: shard(i))
            }
            if case .failure(let e) = put { return e }
            return nil
        }
        if let e = results.compactMap({ $0 }).first { throw e }
        try state.commitPack(record, chunks: buffer.refs)
        written.withLock { (w: inout (packs: Int, shardBytes: Int)) in
            w.packs += 1
            w.shardBytes += size * n
        }
    }
}
