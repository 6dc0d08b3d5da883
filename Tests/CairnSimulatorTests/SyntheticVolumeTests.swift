import CairnWire
import CairnCore
import CairnCrypto
import CairnSimulator
import Testing

/// The simulator's synthetic volumes have equal packs in a slot; the paths it computes for
/// them without building a tree are the ones the engine's `MerkleTree` gives, so owners
/// verify them exactly as they verify real ones.
@Test func uniformPathsAreTheEngineTreesPaths() {
    let leaf = SlotTree.leaf(root: [UInt8](repeating: 5, count: 32), geometry: PackGeometry(k: 4, n: 8, shardBytes: 1 << 22))
    for count in 1...40 {
        let levels = MerkleTree.levels(leaves: Array(repeating: leaf, count: count))
        var tree = SlotTree()
        tree.append(leaf, count: UInt32(count))
        #expect(tree.root == levels.last![0], "\(count) leaves")
        for index in 0..<count {
            var expected = [[UInt8]]()
            var i = index
            for level in levels.dropLast() {
                if i ^ 1 < level.count { expected.append(level[i ^ 1]) }
                i /= 2
            }
            let path = Synthetic.uniformPath(leaf: leaf, index: UInt32(index), count: UInt32(count))
            #expect(path == expected, "leaf \(index) of \(count)")
            #expect(MerkleProof(segmentIndex: index, segmentCount: count, siblings: path).verify(leaf: leaf, root: tree.root))
        }
    }
    // A large volume's paths verify too (no tree of a million leaves is built).
    var big = SlotTree()
    big.append(leaf, count: 1_000_003)
    for index: UInt32 in [0, 1, 524_287, 999_999, 1_000_002] {
        let path = Synthetic.uniformPath(leaf: leaf, index: index, count: 1_000_003)
        #expect(MerkleProof(segmentIndex: Int(index), segmentCount: 1_000_003, siblings: path).verify(leaf: leaf, root: big.root))
    }
}
