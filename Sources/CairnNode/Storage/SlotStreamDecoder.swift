import CairnCore
import CairnCrypto
import CairnWire

/// One pack of a checked slot stream: what its frame said, where the frame starts, and
/// (when asked for) the leaf hash of every segment of its shard, which a holder keeps to
/// answer challenges without rehashing the shard.
public struct CheckedPack: Hashable, Sendable {
    public let geometry: PackGeometry
    public let root: [UInt8]
    /// Offset of the frame (its geometry) in the stream.
    public let offset: UInt64
    /// Leaf hashes of the shard's segments, in order; empty unless the decoder keeps them.
    public let segmentLeaves: [[UInt8]]

    /// The pack's leaf in its slot's tree.
    public var leaf: [UInt8] { SlotTree.leaf(root: root, geometry: geometry) }
}

/// Checks a slot stream (`SlotStream`) as it arrives, in chunks of any size, holding at
/// most one batch of segments of it: every frame's geometry is checked (and its shard
/// length bounded) before any of its shard is read, every shard against the root in front
/// of it, the code (k of n) against the slot's, and the stream must end exactly after the
/// packs expected. Hostile bytes are a thrown `HeldSlotError`, never a trap.
///
/// With `holdShards`, it holds each shard whole instead (at most `shardBytesMax`), hashes
/// it when the last byte is in, and hands it to `consume`'s `shard` closure only once it
/// matches the root in front of it (a restore writing fetched shards straight into its
/// staging targets).
public struct SlotStreamDecoder {
    /// Packs the stream must hold.
    public let packsExpected: UInt32
    /// Bytes the stream must have, when known (a spooled file): a frame announcing more
    /// than is left is refused at once.
    public let streamBytes: UInt64?
    private let slotIndex: UInt8
    private var code: (k: Int, n: Int)?
    private let keepLeaves: Bool
    private let holdShards: Bool
    private let shardBytesMax: UInt64

    public private(set) var packs: [CheckedPack] = []
    /// Bytes taken so far.
    public private(set) var consumed: UInt64 = 0
    private var segmentsSeen = 0
    private var header: [UInt8] = []
    private var current: Shard?
    /// Shard bytes waiting to be hashed: whole segments, or the shard's tail.
    private var batch: [UInt8] = []

    private struct Shard {
        let geometry: PackGeometry
        let root: [UInt8]
        let offset: UInt64
        var remaining: UInt64
        var leaves: [[UInt8]] = []
        /// Bytes hashed at once: whole segments, about 1 MiB.
        let batchBytes: Int
    }

    /// - Parameters:
    ///   - packs: how many packs the stream must hold.
    ///   - slotIndex: the slot's index, which must be below every pack's n.
    ///   - code: the slot's k and n when it already holds packs (an append); nil takes the
    ///     first pack's, which every later pack must share.
    ///   - streamBytes: the stream's length when known.
    ///   - keepLeaves: keep every segment's leaf hash (a holder storing the stream).
    ///   - holdShards: hold each shard whole, for `consume`'s `shard` closure.
    public init(packs: UInt32, slotIndex: UInt8, code: (k: Int, n: Int)? = nil, streamBytes: UInt64? = nil,
                keepLeaves: Bool, holdShards: Bool = false, shardBytesMax: UInt64 = SlotStream.shardBytesMax)
    {
        packsExpected = packs
        self.slotIndex = slotIndex
        self.code = code
        self.streamBytes = streamBytes
        self.keepLeaves = keepLeaves
        self.holdShards = holdShards
        self.shardBytesMax = shardBytesMax
    }

    /// Takes the next bytes of the stream.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer) throws(HeldSlotError) {
        try consume(chunk, shard: nil)
    }

    /// Takes the next bytes of the stream; with `holdShards`, every shard that ends in
    /// them and matches its root goes to `shard` (its bytes valid only during the call)
    /// before the next byte is looked at. A `shard` that throws stops the stream there.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer,
                                 shard deliver: ((CheckedPack, UnsafeRawBufferPointer) throws(HeldSlotError) -> Void)?)
        throws(HeldSlotError)
    {
        var at = 0
        while at < chunk.count {
            let rest = UnsafeRawBufferPointer(rebasing: chunk[at...])
            let taken: Int
            if var shard = current {
                current = nil
                let room = shard.batchBytes - batch.count
                taken = Int(min(UInt64(min(rest.count, room)), shard.remaining))
                batch.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<taken]))
                shard.remaining -= UInt64(taken)
                if batch.count == shard.batchBytes || shard.remaining == 0 { hash(&shard) }
                if shard.remaining == 0 {
                    consumed += UInt64(taken)
                    let checked = try finishShard(shard)
                    if holdShards {
                        defer { batch.removeAll(keepingCapacity: true) }
                        try batch.withUnsafeBytes { bytes in
                            Result { () throws(HeldSlotError) in try deliver?(checked, bytes) }
                        }.get()
                    }
                    at += taken
                    continue
                }
                current = shard
            } else {
                guard packs.count < Int(packsExpected) else {
                    throw HeldSlotError(.trailingBytes,
                                        "bytes follow the \(packsExpected) packs announced, at byte \(consumed) of the slot stream")
                }
                taken = min(rest.count, SlotStream.frameHeaderBytes - header.count)
                header.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<taken]))
                if header.count == SlotStream.frameHeaderBytes {
                    consumed += UInt64(taken)
                    try startShard()
                    at += taken
                    continue
                }
            }
            consumed += UInt64(taken)
            at += taken
        }
    }

    public mutating func consume(_ chunk: [UInt8]) throws(HeldSlotError) {
        try chunk.withUnsafeBytes { b in Result { () throws(HeldSlotError) in try consume(b) } }.get()
    }

    /// The packs, once the stream has ended: refused if it ended inside a pack or before
    /// the packs expected.
    public func finish() throws(HeldSlotError) -> [CheckedPack] {
        guard current == nil, header.isEmpty, packs.count == Int(packsExpected) else {
            throw HeldSlotError(.truncated, "the slot stream ends after \(consumed) bytes, inside pack \(packs.count) of the \(packsExpected) announced")
        }
        if let streamBytes, consumed != streamBytes {
            throw HeldSlotError(.truncated, "the slot stream has \(consumed) of its \(streamBytes) bytes")
        }
        return packs
    }

    private mutating func startShard() throws(HeldSlotError) {
        let offset = consumed - UInt64(SlotStream.frameHeaderBytes)
        let (geometry, root) = try SlotStream.readFrameHeader(header, pack: packs.count, offset: offset,
                                                              shardBytesMax: shardBytesMax)
        header.removeAll(keepingCapacity: true)
        if let code, code.k != geometry.k || code.n != geometry.n {
            throw HeldSlotError(.codeMismatch, "pack \(packs.count) of the slot stream is \(geometry.k)-of-\(geometry.n), the slot \(code.k)-of-\(code.n)")
        }
        guard Int(slotIndex) < geometry.n else {
            throw HeldSlotError(.codeMismatch, "pack \(packs.count) of the slot stream is \(geometry.k)-of-\(geometry.n): it has no slot \(slotIndex)")
        }
        if let streamBytes, geometry.shardBytes > streamBytes - consumed {
            throw HeldSlotError(.truncated, "pack \(packs.count) of the slot stream announces a shard of \(geometry.shardBytes) bytes; \(streamBytes - consumed) are left")
        }
        guard segmentsSeen + Int(geometry.segments) <= SlotStream.segmentsPerStreamMax else {
            throw HeldSlotError(.tooManySegments, "the slot stream has more than \(SlotStream.segmentsPerStreamMax) segments: send it in several appends")
        }
        segmentsSeen += Int(geometry.segments)
        code = (geometry.k, geometry.n)
        let segment = Int(geometry.segmentBytes)
        // Bounded by `shardBytesMax` (`readFrameHeader`) and by the bytes left.
        let batchBytes = holdShards ? max(1, Int(geometry.shardBytes)) : max(1, (1 << 20) / segment) * segment
        batch.reserveCapacity(Int(min(UInt64(batchBytes), geometry.shardBytes)))
        current = Shard(geometry: geometry, root: root, offset: offset, remaining: geometry.shardBytes,
                        batchBytes: batchBytes)
    }

    private mutating func hash(_ shard: inout Shard) {
        let segment = Int(shard.geometry.segmentBytes)
        shard.leaves += batch.withUnsafeBytes { MerkleTree.leafHashes(of: $0, segmentSize: segment) }
        if !holdShards { batch.removeAll(keepingCapacity: true) }
    }

    private mutating func finishShard(_ shard: Shard) throws(HeldSlotError) -> CheckedPack {
        guard MerklePaths.root(shard.leaves) == shard.root else {
            throw HeldSlotError(.shardRoot, "the shard of pack \(packs.count) of the slot stream does not match its root")
        }
        let checked = CheckedPack(geometry: shard.geometry, root: shard.root, offset: shard.offset,
                                  segmentLeaves: keepLeaves ? shard.leaves : [])
        packs.append(checked)
        return checked
    }
}

/// Roots and paths of the engine's Merkle trees (`MerkleTree`) over leaf hashes a holder kept.
enum MerklePaths {
    static func root(_ leaves: [[UInt8]]) -> [UInt8] {
        let levels = MerkleTree.levels(leaves: leaves)
        return levels[levels.count - 1][0]
    }

    /// The siblings from leaf `index` up to the root.
    static func path(_ leaves: [[UInt8]], index: Int) -> [[UInt8]] {
        precondition(index >= 0 && index < leaves.count, "leaf \(index) of \(leaves.count)")
        var path = [[UInt8]]()
        var i = index
        for level in MerkleTree.levels(leaves: leaves).dropLast() {
            if i ^ 1 < level.count { path.append(level[i ^ 1]) }
            i /= 2
        }
        return path
    }
}
