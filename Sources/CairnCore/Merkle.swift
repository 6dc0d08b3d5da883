internal import CairnCrypto

/// The Merkle tree over a shard's fixed-size segments, as the owner keeps its root and a
/// holder proves one segment: leaf = BLAKE2b-256(0x00 ‖ segment), inner node =
/// BLAKE2b-256(0x01 ‖ left ‖ right), an odd last node is promoted unchanged. The same format
/// as CairnData's trees over real shards.
public enum Merkle {
    public static let hashBytes = 32

    public static func leafHash(_ segment: [UInt8]) -> [UInt8] {
        var input = [UInt8](repeating: 0, count: 1 + segment.count)
        input.withUnsafeMutableBufferPointer { buf in
            for i in 0..<segment.count { buf[i + 1] = segment[i] }
        }
        return Blake2b.hash(input)
    }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var input = [UInt8]()
        input.reserveCapacity(1 + left.count + right.count)
        input.append(1)
        input.append(contentsOf: left)
        input.append(contentsOf: right)
        return Blake2b.hash(input)
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
