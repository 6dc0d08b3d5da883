import CairnCrypto
import Foundation
import CairnTestSupport
import Testing

@testable import CairnData

/// The reference vectors in Vectors/vectors.json (see Vectors/README.md).
struct FastCDCVectors: Decodable {
    struct Case: Decodable {
        struct Params: Decodable {
            let avg_size: Int
            let min_size: Int
            let max_size: Int
            let normalized_chunking: Int
            let gear_seed: UInt64
        }

        struct ChunkInfo: Decodable {
            let offset: Int
            let length: Int
            let gear_hash: String?
            let blake2b256: String?
            let blake2b256_keyed: String?
        }

        let name: String
        let input: String
        let input_len: Int
        let params: Params
        let cut_points: [Int]
        let num_chunks: Int
        let chunks: [ChunkInfo]?
    }

    let cases: [Case]

    static func load() throws -> FastCDCVectors {
        let url = try #require(Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(FastCDCVectors.self, from: Data(contentsOf: url))
    }

    static func input(for testCase: Case) throws -> [UInt8] {
        if testCase.input.hasPrefix("SplitMix64 seed 0") {
            var rng = SeededRandom(seed: 0)
            return rng.bytes(testCase.input_len)
        }
        if testCase.input.contains("of 0x00") {
            return [UInt8](repeating: 0, count: testCase.input_len)
        }
        Issue.record("unknown vector input \(testCase.input)")
        throw CancellationError()
    }

    static func table(_ name: String) throws -> [UInt64] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Vectors"))
        return try String(contentsOf: url, encoding: .utf8)
            .split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { try #require(UInt64($0, radix: 16)) }
    }
}

@Suite struct FastCDCVectorTests {
    // MARK: generator

    @Test func splitMixMatchesTheVectorFile() {
        var rng = SeededRandom(seed: 0)
        #expect(Hex.encode(rng.bytes(16)) == "afcd1d7b39a820e2f465b9a16a9e786e")
    }

    // MARK: tables

    @Test func embeddedTablesMatchTheTextTables() throws {
        #expect(FastCDCTables.gear == (try FastCDCVectors.table("gear")))
        #expect(FastCDCTables.masks == (try FastCDCVectors.table("masks")))
    }

    // MARK: cut points

    @Test func everyVectorCaseReproducesExactly() throws {
        let vectors = try FastCDCVectors.load()
        #expect(vectors.cases.count == 4)
        let key = (0..<32).map { UInt8($0) }
        for testCase in vectors.cases {
            let p = testCase.params
            let parameters = try ChunkerParameters(
                minSize: p.min_size, avgSize: p.avg_size, maxSize: p.max_size,
                normalization: p.normalized_chunking, gearSeed: p.gear_seed)
            let chunker = FastCDC(parameters)
            let input = try FastCDCVectors.input(for: testCase)
            #expect(input.count == testCase.input_len)

            let lengths = input.withUnsafeBytes { chunker.chunkLengths($0) }
            var ends: [Int] = []
            var end = 0
            for length in lengths {
                end += length
                ends.append(end)
            }
            #expect(ends.last == input.count, "\(testCase.name)")
            #expect(Array(ends.dropLast()) == testCase.cut_points, "\(testCase.name)")
            #expect(lengths.count == testCase.num_chunks, "\(testCase.name)")

            for info in testCase.chunks ?? [] {
                let bytes = Array(input[info.offset..<(info.offset + info.length)])
                if let expected = info.blake2b256 {
                    #expect(Hex.encode(Blake2b.hash(bytes)) == expected, "\(testCase.name) @\(info.offset)")
                }
                if let expected = info.blake2b256_keyed {
                    #expect(Hex.encode(Blake2b.hash(bytes, key: key)) == expected, "\(testCase.name) @\(info.offset)")
                }
                if let expected = info.gear_hash, info.offset + info.length < input.count {
                    let window = min(input.count - info.offset, parameters.maxSize)
                    let cut = input.withUnsafeBytes {
                        chunker.cut(UnsafeRawBufferPointer(rebasing: $0[info.offset..<(info.offset + window)]))
                    }
                    #expect(cut.length == info.length)
                    #expect(UInt64(expected, radix: 16) == cut.hash, "\(testCase.name) @\(info.offset)")
                }
            }
        }
    }
}
