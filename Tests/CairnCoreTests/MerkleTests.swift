import CairnCore
import Testing

// MARK: Proofs

@Test(arguments: [1, 2, 3, 5, 8, 13])
func proofsVerifyForEveryLeaf(count: Int) {
    let segments = (0..<count).map { i in [UInt8](repeating: UInt8(i), count: 40) }
    let root = Merkle.root(segments: segments)
    for i in 0..<count {
        let proof = Merkle.proof(segments: segments, index: i)
        #expect(Merkle.verify(root: root, index: i, count: count, segment: segments[i], proof: proof))
        var wrong = segments[i]
        wrong[0] ^= 1
        #expect(!Merkle.verify(root: root, index: i, count: count, segment: wrong, proof: proof))
        if count > 1 {
            #expect(!Merkle.verify(root: root, index: (i + 1) % count, count: count, segment: segments[i], proof: proof))
        }
    }
}

@Test func hostileProofsAreFalseNotTraps() {
    let segments = (0..<4).map { i in [UInt8](repeating: UInt8(i), count: 8) }
    let root = Merkle.root(segments: segments)
    #expect(!Merkle.verify(root: root, index: 0, count: 4, segment: segments[0], proof: []))
    #expect(!Merkle.verify(root: root, index: 0, count: 4, segment: segments[0], proof: [[1, 2, 3], [4]]))
    #expect(!Merkle.verify(root: root, index: 9, count: 4, segment: segments[0], proof: []))
    #expect(!Merkle.verify(root: root, index: 0, count: 0, segment: segments[0], proof: []))
}

@Test func singleLeafRootIsLeafHash() {
    #expect(Merkle.root(segments: [[1, 2]]) == Merkle.leafHash([1, 2]))
}
