import CairnCrypto
import CairnCrypto
import CairnTestSupport
import Testing

@Suite struct MerkleTreeTests {
    static func segments(_ shard: [UInt8], _ size: Int) -> [[UInt8]] {
        stride(from: 0, to: shard.count, by: size).map { Array(shard[$0..<min(shard.count, $0 + size)]) }
    }

    // MARK: format

    @Test func formatIsAsDocumented() {
        let a: [UInt8] = [1, 2, 3, 4], b: [UInt8] = [5, 6, 7, 8], c: [UInt8] = [9]
        let leaf = { (s: [UInt8]) in Blake2b.hash([0x00] + s) }
        let node = { (l: [UInt8], r: [UInt8]) in Blake2b.hash([0x01] + l + r) }
        #expect(MerkleTree.root(of: [], segmentSize: 4) == Blake2b.hash([0x02]))
        #expect(MerkleTree.root(of: a, segmentSize: 4) == leaf(a))
        #expect(MerkleTree.root(of: a + b, segmentSize: 4) == node(leaf(a), leaf(b)))
        #expect(MerkleTree.root(of: a + b + c, segmentSize: 4) == node(node(leaf(a), leaf(b)), leaf(c)))
        #expect(MerkleTree.segmentCount(length: 9, segmentSize: 4) == 3)
        #expect(MerkleTree.segmentCount(length: 8, segmentSize: 4) == 2)
        #expect(MerkleTree.segmentCount(length: 0) == 0)
    }

    // MARK: proofs

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
    func everySegmentProves(count: Int) {
        var rng = SeededRandom(seed: UInt64(count))
        let size = 64
        for shortLast in [0, 1, 63] {
            let length = count * size - shortLast
            guard length > (count - 1) * size else { continue }
            let shard = rng.bytes(length)
            let root = MerkleTree.root(of: shard, segmentSize: size)
            let parts = Self.segments(shard, size)
            #expect(parts.count == count)
            for (i, part) in parts.enumerated() {
                let proof = MerkleTree.proof(of: shard, segment: i, segmentSize: size)
                #expect(proof.segmentIndex == i && proof.segmentCount == count)
                #expect(proof.verify(segment: part, root: root), "segment \(i) of \(count)")

                var flipped = part
                flipped[rng.int(in: 0...(part.count - 1))] ^= 0x10
                #expect(!proof.verify(segment: flipped, root: root))
                #expect(!proof.verify(segment: Array(part.dropLast()), root: root))
                if count > 1 {
                    let other = parts[(i + 1) % count]
                    #expect(!proof.verify(segment: other, root: root))
                    let wrongIndex = MerkleProof(segmentIndex: (i + 1) % count, segmentCount: count, siblings: proof.siblings)
                    #expect(!wrongIndex.verify(segment: part, root: root))
                }
                var badRoot = root
                badRoot[0] ^= 1
                #expect(!proof.verify(segment: part, root: badRoot))
            }
        }
    }

    @Test func defaultSegmentSize() {
        var rng = SeededRandom(seed: 99)
        let shard = rng.bytes(3 * MerkleTree.defaultSegmentSize + 100)
        let root = MerkleTree.root(of: shard)
        let proof = MerkleTree.proof(of: shard, segment: 3)
        #expect(proof.segmentCount == 4)
        #expect(proof.verify(segment: Array(shard[(3 * MerkleTree.defaultSegmentSize)...]), root: root))
        #expect(MerkleTree.leafHashes(of: shard.withUnsafeBytes { $0 }).count == 4)
    }

    // MARK: hostile proofs

    @Test func malformedProofsAreRejectedWithoutTrapping() {
        var rng = SeededRandom(seed: 5)
        let shard = rng.bytes(5 * 32)
        let root = MerkleTree.root(of: shard, segmentSize: 32)
        let good = MerkleTree.proof(of: shard, segment: 2, segmentSize: 32)
        let segment = Array(shard[64..<96])
        #expect(good.verify(segment: segment, root: root))
        let bad = [
            MerkleProof(segmentIndex: 2, segmentCount: 0, siblings: good.siblings),
            MerkleProof(segmentIndex: -1, segmentCount: 5, siblings: good.siblings),
            MerkleProof(segmentIndex: 5, segmentCount: 5, siblings: good.siblings),
            MerkleProof(segmentIndex: 2, segmentCount: Int.max, siblings: good.siblings),
            MerkleProof(segmentIndex: Int.max - 1, segmentCount: Int.max, siblings: good.siblings),
            // (Counts 5, 6 and 8 give segment 2 the same path: the count is not
            // bound by a proof; the challenger checks it against the count it knows.)
            MerkleProof(segmentIndex: 2, segmentCount: 3, siblings: good.siblings),
            MerkleProof(segmentIndex: 2, segmentCount: 5, siblings: Array(good.siblings.dropLast())),
            MerkleProof(segmentIndex: 2, segmentCount: 5, siblings: good.siblings + [good.siblings[0]]),
            MerkleProof(segmentIndex: 2, segmentCount: 5, siblings: [Array(good.siblings[0].dropLast())] + good.siblings.dropFirst()),
            MerkleProof(segmentIndex: 2, segmentCount: 5, siblings: []),
            MerkleProof(segmentIndex: 2, segmentCount: 5, siblings: Array(repeating: good.siblings[0], count: 1000)),
        ]
        for proof in bad {
            #expect(!proof.verify(segment: segment, root: root), "\(proof.segmentIndex)/\(proof.segmentCount)")
        }
        #expect(!good.verify(segment: segment, root: Array(root.dropLast())))
        #expect(!good.verify(segment: segment, root: []))
    }
}
