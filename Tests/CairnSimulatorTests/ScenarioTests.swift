import CairnCore
import CairnCrypto
import CairnSimulator
import Foundation
import Testing

// MARK: Strict scenario validation

private func error(_ json: String) -> String? {
    do {
        _ = try Scenario.parse(json)
        return nil
    } catch {
        return error.description
    }
}

@Test func minimalScenarioParses() throws {
    let s = try Scenario.parse(#"{"nodes": 10}"#)
    #expect(s.nodes == 10 && s.k == 4 && s.n == 8)
}

@Test func unknownKeysAreNamedByPath() {
    #expect(error(#"{"nodes": 10, "nodez": 1}"#) == "$.nodez: unknown key")
    #expect(error(#"{"nodes": 10, "protocol": {"kk": 3}}"#) == "$.protocol.kk: unknown key")
    #expect(error(#"{"nodes": 10, "churn": {"online_hours": {"dist": "weibull", "shape": 1, "scale": 2, "x": 1}}}"#)
        == "$.churn.online_hours.x: unknown key")
}

@Test func wrongTypesAreNamedByPath() {
    #expect(error(#"{"nodes": "ten"}"#) == "$.nodes: expected an integer, found a string")
    #expect(error(#"{"nodes": 10.5}"#) == "$.nodes: expected an integer, found a fraction")
    #expect(error(#"{"nodes": 10, "protocol": []}"#) == "$.protocol: expected an object, found an array")
    #expect(error(#"{"nodes": 10, "churn": {"partitions": [{"at_day": "x", "fraction": 1, "duration_hours": 1}]}}"#)
        == "$.churn.partitions[0].at_day: expected a number, found a string")
}

@Test func impossibleValuesAreRejected() {
    #expect(error(#"{"nodes": 10, "protocol": {"k": 8, "n": 8}}"#) == "$.protocol.n: n (8) must exceed k (8)")
    #expect(error(#"{"nodes": 1}"#)?.hasPrefix("$.nodes: 1 is out of range") == true)
    #expect(error(#"{"nodes": 10, "protocol": {"k": 4, "n": 8, "repair_trigger": 4}}"#)
        == "$.protocol.repair_trigger: 4 must be in k+1...n (5...8)")
    #expect(error(#"{"nodes": 10, "offered_gib": {"dist": "uniform", "min": 5, "max": 1}}"#)
        == "$.offered_gib.max: 1.0 is below min 5.0")
    #expect(error(#"{"nodes": 10, "adversaries": {"liars": 0.3, "droppers": 0.3}}"#)
        == "$.adversaries: fractions add up to 0.6, at most 0.5")
    #expect(error(#"{}"#) == "$.nodes: required")
}

@Test func malformedJSONIsAnErrorNotATrap() {
    for text in ["", "{", #"{"nodes": }"#, #"{"nodes": 1,}"#, #"{"a": 1, "a": 2}"#, "[1, 2", "nul", "\"\\u12\""] {
        #expect(error(text) != nil, "accepted \(text)")
    }
}

@Test func shippedScenariosAreValid() throws {
    let dir = Package.path("Scenarios")
    let top = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.map { dir + "/" + $0 }
    for file in top + Package.ciScenarios {
        #expect(throws: Never.self, "\(file)") { _ = try Scenario.load(path: file) }
    }
}

// MARK: Synthetic shards

/// A synthetic shard is the concatenation of its segments: its root and proofs must be the
/// data path's (`MerkleTree` over the real bytes), or simulated challenges would test
/// another format than real holders answer.
@Test(arguments: [1, 2, 5, 8, 13])
func syntheticTreeProofsMatchMerkleProofs(count: Int) {
    let shard = ShardID(pack: PackID(9), index: 3)
    let bytes = Synthetic.segments(shard, count: UInt32(count)).flatMap { $0 }
    let tree = Synthetic.tree(shard, count: UInt32(count))
    let root = Synthetic.root(shard, count: UInt32(count))
    #expect(root == MerkleTree.root(of: bytes, segmentSize: Synthetic.segmentBytes))
    for i in 0..<count {
        let proof = Synthetic.proof(tree: tree, count: count, index: i)
        #expect(proof == MerkleTree.proof(of: bytes, segment: i, segmentSize: Synthetic.segmentBytes).siblings)
        let answer = MerkleProof(segmentIndex: i, segmentCount: count, siblings: proof)
        #expect(answer.verify(segment: Synthetic.segment(shard, UInt32(i)), root: root))
        #expect(!answer.verify(segment: Synthetic.segment(shard, UInt32((i + 1) % count)), root: root) || count == 1)
    }
}
