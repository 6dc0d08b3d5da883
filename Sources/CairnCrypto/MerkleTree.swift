/// A Merkle tree over fixed-size segments of a shard, so an owner who keeps only the
/// 32-byte root can challenge a holder for any segment and check the answer: a holder that
/// dropped a fraction f of the shard fails each challenge with probability at least f.
///
/// Format (a wire and storage format; changing it breaks every stored root):
/// - The shard is cut into `segmentCount = ceil(length / segmentSize)` segments of
///   `segmentSize` bytes; the last one may be shorter (never empty).
/// - leaf = BLAKE2b-256(0x00 ‖ segment)
/// - node = BLAKE2b-256(0x01 ‖ left ‖ right)
/// - Each level pairs neighbours left to right; an odd last node is promoted to the next
///   level unchanged (not hashed with itself, so no two trees share a root by duplication).
/// - The root is the single node left; a one-segment shard's root is its leaf.
/// - An empty shard has no segments and root = BLAKE2b-256(0x02).
/// The prefixes keep leaves, inner nodes and the empty root apart, so no segment can be
/// passed off as an inner node.
public enum MerkleTree {
    public static let defaultSegmentSize = 64 * 1024
    /// Bytes in every hash of the tree.
    public static let hashLength = 32

    static let leafPrefix: UInt8 = 0x00
    static let nodePrefix: UInt8 = 0x01
    static let emptyPrefix: UInt8 = 0x02

    /// The root of a shard with no bytes.
    public static let emptyRoot = Blake2b.hash([emptyPrefix])

    /// Number of segments of a shard of `length` bytes.
    public static func segmentCount(length: Int, segmentSize: Int = defaultSegmentSize) -> Int {
        precondition(segmentSize > 0 && length >= 0, "segment size \(segmentSize), length \(length)")
        return length / segmentSize + (length % segmentSize == 0 ? 0 : 1)
    }

    /// BLAKE2b-256(0x00 ‖ segment).
    public static func leafHash(_ segment: UnsafeRawBufferPointer) -> [UInt8] {
        if segment.count <= shortInputMax {
            return hashPrefixed(leafPrefix, segment, UnsafeRawBufferPointer(start: nil, count: 0))
        }
        var hasher = Blake2b(outputLength: hashLength)
        withUnsafeBytes(of: leafPrefix) { hasher.update($0) }
        hasher.update(segment)
        return hasher.finalize()
    }

    public static func leafHash(_ segment: [UInt8]) -> [UInt8] {
        segment.withUnsafeBytes { leafHash($0) }
    }

    /// BLAKE2b-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        left.withUnsafeBytes { l in right.withUnsafeBytes { r in hashPrefixed(nodePrefix, l, r) } }
    }

    /// Inputs up to this size are hashed in one call from a stack buffer (a verifier and the
    /// simulator hash millions of short leaves and nodes; the streaming state is a heap
    /// allocation each).
    private static let shortInputMax = 1024

    /// BLAKE2b-256(prefix ‖ a ‖ b), the input assembled in a temporary buffer.
    private static func hashPrefixed(_ prefix: UInt8, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> [UInt8] {
        let count = 1 + a.count + b.count
        return withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { buf in
            buf[0] = prefix
            if a.count > 0 { UnsafeMutableRawBufferPointer(rebasing: buf[1..<1 + a.count]).copyMemory(from: a) }
            if b.count > 0 { UnsafeMutableRawBufferPointer(rebasing: buf[1 + a.count..<count]).copyMemory(from: b) }
            return Blake2b.hash(UnsafeRawBufferPointer(buf), outputLength: hashLength)
        }
    }

    /// Every level of the tree over `leaves` (leaf hashes), leaves first, root last: what a
    /// holder keeps to answer challenges without rehashing the shard.
    public static func levels(leaves: [[UInt8]]) -> [[[UInt8]]] {
        guard !leaves.isEmpty else { return [[emptyRoot]] }
        var levels = [leaves]
        while levels[levels.count - 1].count > 1 { levels.append(parents(of: levels[levels.count - 1])) }
        return levels
    }

    /// The leaf hash of every segment, in order.
    public static func leafHashes(of shard: UnsafeRawBufferPointer, segmentSize: Int = defaultSegmentSize) -> [[UInt8]] {
        leafHashes(of: [shard], segmentSize: segmentSize)[0]
    }

    /// The leaf hashes of several shards, computed together: every leaf is an independent
    /// BLAKE2b, so they go through `Blake2bLanes` eight at a time.
    public static func leafHashes(of shards: [UnsafeRawBufferPointer], segmentSize: Int = defaultSegmentSize) -> [[[UInt8]]] {
        let counts = shards.map { segmentCount(length: $0.count, segmentSize: segmentSize) }
        return withUnsafeBytes(of: leafPrefix) { prefix in
            var messages: [Blake2bLanes.Message] = []
            messages.reserveCapacity(counts.reduce(0, +))
            for (shard, count) in zip(shards, counts) {
                for i in 0..<count {
                    let start = i * segmentSize
                    let segment = UnsafeRawBufferPointer(rebasing: shard[start..<min(shard.count, start + segmentSize)])
                    messages.append(Blake2bLanes.Message(prefix: prefix, body: segment))
                }
            }
            let digests = Blake2bLanes.hash(messages, outputLength: hashLength)
            var at = 0
            return counts.map { count in
                (0..<count).map { _ in
                    defer { at += hashLength }
                    return Array(digests[at..<at + hashLength])
                }
            }
        }
    }

    /// The root the owner keeps for `shard`.
    public static func root(of shard: UnsafeRawBufferPointer, segmentSize: Int = defaultSegmentSize) -> [UInt8] {
        roots(of: [shard], segmentSize: segmentSize)[0]
    }

    /// The roots of several shards (all of a pack's): one batch of leaf hashes for all.
    public static func roots(of shards: [UnsafeRawBufferPointer], segmentSize: Int = defaultSegmentSize) -> [[UInt8]] {
        leafHashes(of: shards, segmentSize: segmentSize).map { leaves in
            var level = leaves
            guard !level.isEmpty else { return emptyRoot }
            while level.count > 1 { level = parents(of: level) }
            return level[0]
        }
    }

    public static func root(of shard: [UInt8], segmentSize: Int = defaultSegmentSize) -> [UInt8] {
        shard.withUnsafeBytes { root(of: $0, segmentSize: segmentSize) }
    }

    /// The proof that segment `segment` belongs to `shard`: its sibling hashes from the
    /// leaf level up. `segment` must be in `0..<segmentCount` (the challenger picks it from
    /// the count it knows).
    public static func proof(of shard: UnsafeRawBufferPointer, segment: Int,
                             segmentSize: Int = defaultSegmentSize) -> MerkleProof {
        var level = leafHashes(of: shard, segmentSize: segmentSize)
        precondition((0..<level.count).contains(segment), "segment \(segment) of a shard with \(level.count) segments")
        let count = level.count
        var index = segment
        var siblings: [[UInt8]] = []
        while level.count > 1 {
            let sibling = index ^ 1
            if sibling < level.count { siblings.append(level[sibling]) }
            level = parents(of: level)
            index /= 2
        }
        return MerkleProof(segmentIndex: segment, segmentCount: count, siblings: siblings)
    }

    public static func proof(of shard: [UInt8], segment: Int, segmentSize: Int = defaultSegmentSize) -> MerkleProof {
        shard.withUnsafeBytes { proof(of: $0, segment: segment, segmentSize: segmentSize) }
    }

    /// The next level up: pairs hashed, an odd last node promoted unchanged.
    private static func parents(of level: [[UInt8]]) -> [[UInt8]] {
        stride(from: 0, to: level.count, by: 2).map { i in
            i + 1 < level.count ? nodeHash(level[i], level[i + 1]) : level[i]
        }
    }
}

/// A holder's answer to a storage challenge: the sibling hashes that lead from one
/// segment's leaf to the shard's root. Decoded from the network, so `verify` treats every
/// field as hostile and answers false rather than trapping.
public struct MerkleProof: Sendable, Equatable {
    public let segmentIndex: Int
    public let segmentCount: Int
    /// From the leaf level up; a level where the path node is promoted has no sibling.
    public let siblings: [[UInt8]]

    public init(segmentIndex: Int, segmentCount: Int, siblings: [[UInt8]]) {
        self.segmentIndex = segmentIndex
        self.segmentCount = segmentCount
        self.siblings = siblings
    }

    /// True when `segment` is segment `segmentIndex` of the shard whose root is `root`.
    /// The challenger must also check that `segmentIndex` and `segmentCount` are the ones it
    /// asked for and expects: the path shape does not always pin the count down (segment 2
    /// has the same path in trees of 5, 6 and 8 segments), and the segment's length is not
    /// checked here either.
    public func verify(segment: UnsafeRawBufferPointer, root: [UInt8]) -> Bool {
        verify(leaf: MerkleTree.leafHash(segment), root: root)
    }

    /// True when `leaf` (a leaf hash, not the segment) is leaf `segmentIndex` of the tree
    /// whose root is `root`: a volume slot's tree has the packs' leaf hashes as its leaves.
    public func verify(leaf: [UInt8], root: [UInt8]) -> Bool {
        guard segmentCount >= 1, segmentIndex >= 0, segmentIndex < segmentCount,
              root.count == MerkleTree.hashLength, leaf.count == MerkleTree.hashLength,
              siblings.count <= Int.bitWidth,
              siblings.allSatisfy({ $0.count == MerkleTree.hashLength }) else { return false }
        var hash = leaf
        var index = segmentIndex
        var count = segmentCount
        var used = 0
        while count > 1 {
            if index % 2 == 1 || index < count - 1 {
                guard used < siblings.count else { return false }
                let sibling = siblings[used]
                used += 1
                hash = index % 2 == 1 ? MerkleTree.nodeHash(sibling, hash) : MerkleTree.nodeHash(hash, sibling)
            }
            index /= 2
            count = count / 2 + count % 2  // ceil(count / 2) without overflow
        }
        return used == siblings.count && hash == root
    }

    public func verify(segment: [UInt8], root: [UInt8]) -> Bool {
        segment.withUnsafeBytes { verify(segment: $0, root: root) }
    }
}
