internal import CairnCrypto

/// The Merkle tree over a shard's fixed-size segments, as the owner keeps its root and a
/// holder proves one segment: leaf = BLAKE2b-256(0x00 ‖ segment), inner node =
/// BLAKE2b-256(0x01 ‖ left ‖ right), an odd last node is promoted unchanged. The same format
/// as CairnData's trees over real shards.
public enum Merkle {
    public static let hashBytes = 32

    public static func leafHash(_ segment: [UInt8]) -> [UInt8] {
        segment.withUnsafeBytes { hashPrefixed(0, $0, UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        left.withUnsafeBytes { l in right.withUnsafeBytes { r in hashPrefixed(1, l, r) } }
    }

    /// BLAKE2b-256(prefix ‖ a ‖ b), the input assembled on the stack.
    private static func hashPrefixed(_ prefix: UInt8, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> [UInt8] {
        let count = 1 + a.count + b.count
        return withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { buf in
            buf[0] = prefix
            if a.count > 0 { UnsafeMutableRawBufferPointer(rebasing: buf[1..<1 + a.count]).copyMemory(from: a) }
            if b.count > 0 { UnsafeMutableRawBufferPointer(rebasing: buf[1 + a.count..<count]).copyMemory(from: b) }
            return Blake2b.hash(UnsafeRawBufferPointer(buf))
        }
    }

    /// All levels, leaves first.
    public static func levels(leaves: [[UInt8]]) -> [[[UInt8]]] {
        precondition(!leaves.isEmpty, "Merkle tree of no leaves")
        var levels = [leaves]
        while levels[levels.count - 1].count > 1 {
            let level = levels[levels.count - 1]
            var next = [[UInt8]]()
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i < level.count {
                if i + 1 < level.count {
                    next.append(nodeHash(level[i], level[i + 1]))
                } else {
                    next.append(level[i])
                }
                i += 2
            }
            levels.append(next)
        }
        return levels
    }

    public static func root(segments: [[UInt8]]) -> [UInt8] {
        levels(leaves: segments.map(leafHash)).last![0]
    }

    /// The sibling hashes from leaf `index` up to the root (promoted levels contribute none).
    public static func proof(segments: [[UInt8]], index: Int) -> [[UInt8]] {
        precondition(index >= 0 && index < segments.count, "proof index \(index) of \(segments.count)")
        let levels = levels(leaves: segments.map(leafHash))
        var proof = [[UInt8]]()
        var i = index
        for level in levels.dropLast() {
            let sibling = i ^ 1
            if sibling < level.count { proof.append(level[sibling]) }
            i /= 2
        }
        return proof
    }

    /// Checks `segment` as leaf `index` of `count` leaves against `root`. Never traps on a
    /// hostile proof: wrong lengths or depths are simply false.
    public static func verify(root: [UInt8], index: Int, count: Int, segment: [UInt8], proof: [[UInt8]]) -> Bool {
        guard count > 0, index >= 0, index < count, proof.count <= Limits.proofDepthMax else { return false }
        var hash = leafHash(segment)
        var i = index
        var width = count
        var used = 0
        while width > 1 {
            let sibling = i ^ 1
            if sibling < width {
                guard used < proof.count, proof[used].count == hashBytes else { return false }
                hash = (i & 1 == 0) ? nodeHash(hash, proof[used]) : nodeHash(proof[used], hash)
                used += 1
            }
            i /= 2
            width = (width + 1) / 2
        }
        return used == proof.count && hash == root
    }
}
