import CairnData
import CairnTestSupport
import Testing

@Suite struct ErasureCoderTests {
    /// All subsets of `0..<n` with `size` elements, in lexicographic order.
    static func subsets(of n: Int, size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard n >= size else { return [] }
        return subsets(of: n - 1, size: size) + subsets(of: n - 1, size: size - 1).map { $0 + [n - 1] }
    }

    // MARK: encoding

    @Test func dataShardsAreTheDataInOrder() throws {
        let coder = try ErasureCoder(k: 3, n: 5)
        let data = (1...10).map { UInt8($0) }
        let shards = coder.encode(data)
        #expect(coder.shardSize(forLength: 10) == 4)
        #expect(shards.count == 5)
        #expect(shards[0] == [1, 2, 3, 4])
        #expect(shards[1] == [5, 6, 7, 8])
        #expect(shards[2] == [9, 10, 0, 0])
        #expect(shards.allSatisfy { $0.count == 4 })
    }

    @Test func encodingIsDeterministic() throws {
        let coder = try ErasureCoder(k: 4, n: 7)
        var rng = SeededRandom(seed: 5)
        let data = rng.bytes(10_001)
        #expect(coder.encode(data) == (try ErasureCoder(k: 4, n: 7)).encode(data))
    }

    // MARK: reconstruction

    @Test func everyThreeOfFiveRecovers() throws {
        let coder = try ErasureCoder(k: 3, n: 5)
        var rng = SeededRandom(seed: 1)
        for length in [0, 1, 2, 3, 1000, 65_537] {
            let data = rng.bytes(length)
            let shards = coder.encode(data)
            for size in 3...5 {
                for subset in Self.subsets(of: 5, size: size) {
                    let given = Dictionary(uniqueKeysWithValues: subset.map { ($0, shards[$0]) })
                    #expect(try coder.reconstruct(shards: given, originalLength: length) == data, "\(subset)")
                }
            }
        }
    }

    @Test func randomParameters() throws {
        var rng = SeededRandom(seed: 2)
        var cases = [(1, 1), (1, 4), (4, 4), (10, 20), (1, 20), (20, 20), (17, 255)]
        for _ in 0..<20 {
            let n = rng.int(in: 1...30)
            cases.append((rng.int(in: 1...n), n))
        }
        for (k, n) in cases {
            let coder = try ErasureCoder(k: k, n: n)
            let length = rng.int(in: 0...5000)
            let data = rng.bytes(length)
            let shards = coder.encode(data)
            #expect(shards.count == n)
            var order = Array(0..<n)
            order.shuffle(using: &rng)
            let kept = order.prefix(k)
            let given = Dictionary(uniqueKeysWithValues: kept.map { ($0, shards[$0]) })
            #expect(try coder.reconstruct(shards: given, originalLength: length) == data, "k=\(k) n=\(n) kept=\(kept.sorted())")

            let missing = Array(order.dropFirst(k))
            let rebuilt = try coder.rebuild(shards: given, missing: missing)
            #expect(rebuilt.count == missing.count)
            for index in missing {
                #expect(rebuilt[index] == shards[index], "k=\(k) n=\(n) shard \(index)")
            }
        }
    }

    @Test func rebuildFromParityOnly() throws {
        let coder = try ErasureCoder(k: 3, n: 6)
        var rng = SeededRandom(seed: 3)
        let shards = coder.encode(rng.bytes(777))
        let given = [3: shards[3], 4: shards[4], 5: shards[5]]
        let rebuilt = try coder.rebuild(shards: given, missing: [0, 1, 2, 2])
        #expect(rebuilt == [0: shards[0], 1: shards[1], 2: shards[2]])
        #expect(try coder.rebuild(shards: given, missing: []) == [:])
    }

    // MARK: errors

    @Test func tooFewShards() throws {
        let coder = try ErasureCoder(k: 3, n: 5)
        let shards = coder.encode([UInt8](repeating: 9, count: 100))
        do {
            _ = try coder.reconstruct(shards: [0: shards[0], 4: shards[4]], originalLength: 100)
            Issue.record("reconstructed from 2 of 3")
        } catch {
            #expect(error.code == .notEnoughShards)
            #expect(error.message.contains("missing: [1, 2, 3]"))
        }
        let few = #expect(throws: ErasureCodingError.self) { try coder.rebuild(shards: [1: shards[1]], missing: [0]) }
        #expect(few?.code == .notEnoughShards, "\(String(describing: few))")
    }

    @Test func inconsistentShards() throws {
        let coder = try ErasureCoder(k: 3, n: 5)
        let shards = coder.encode([UInt8](repeating: 9, count: 100))
        var given = [0: shards[0], 1: shards[1], 3: shards[3]]
        given[1]!.removeLast()
        func code(_ body: () throws -> Void) -> ErasureCodingError.Code? {
            (#expect(throws: ErasureCodingError.self) { try body() })?.code
        }
        #expect(code { _ = try coder.reconstruct(shards: given, originalLength: 100) } == .inconsistentShardSizes)
        let good = [0: shards[0], 1: shards[1], 3: shards[3]]
        #expect(code { _ = try coder.reconstruct(shards: good, originalLength: 200) } == .inconsistentShardSizes)
        #expect(code { _ = try coder.reconstruct(shards: good, originalLength: -1) } == .inconsistentShardSizes)
        #expect(code { _ = try coder.reconstruct(shards: good.merging([5: shards[4]]) { a, _ in a }, originalLength: 100) }
            == .shardIndexOutOfRange)
        #expect(code { _ = try coder.rebuild(shards: good, missing: [5]) } == .shardIndexOutOfRange)
        #expect(code { _ = try coder.rebuild(shards: good, missing: [-1]) } == .shardIndexOutOfRange)
    }

    @Test(arguments: [(0, 1), (2, 1), (1, 256), (-1, 3), (300, 300)])
    func invalidParameters(k: Int, n: Int) {
        let e = #expect(throws: ErasureCodingError.self) { try ErasureCoder(k: k, n: n) }
        #expect(e?.code == .invalidParameters, "\(String(describing: e))")
    }
}
