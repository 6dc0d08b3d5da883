import CairnCore
import CairnCrypto
import Testing

/// The node core's Merkle proofs (challenges) and the data path's Merkle roots (kept per
/// shard at backup) must be one format, or a real holder could never answer a challenge
/// about a real shard.
@Suite struct MerkleFormatAgreementTests {
    @Test(arguments: [1, 2, 3, 5, 8, 13])
    func coreAndDataPathAgree(segments: Int) {
        let segmentSize = 1024
        var state: UInt64 = UInt64(segments)
        let shard = (0..<(segments * segmentSize - 17)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let pieces = stride(from: 0, to: shard.count, by: segmentSize).map { Array(shard[$0..<min(shard.count, $0 + segmentSize)]) }
        let root = MerkleTree.root(of: shard, segmentSize: segmentSize)
        #expect(Merkle.root(segments: pieces) == root)
        for i in pieces.indices {
            let proof = Merkle.proof(segments: pieces, index: i)
            #expect(MerkleProof(segmentIndex: i, segmentCount: pieces.count, siblings: proof).verify(segment: pieces[i], root: root))
            #expect(Merkle.verify(root: root, index: i, count: pieces.count, segment: pieces[i],
                                  proof: MerkleTree.proof(of: shard, segment: i, segmentSize: segmentSize).siblings))
        }
    }
}
