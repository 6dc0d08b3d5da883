import Foundation
import CairnTestSupport
import Testing
import CairnCrypto

/// The multi-lane BLAKE2b must give libsodium's digest for every message, whatever the
/// lengths, prefixes, key and output size, on both its AVX-512 and its portable path.
@Suite struct Blake2bLanesTests {
    /// libsodium's digest of prefix ‖ body.
    static func reference(_ prefix: [UInt8], _ body: [UInt8], outputLength: Int, key: [UInt8]) -> [UInt8] {
        var h = Blake2b(outputLength: outputLength, key: key)
        h.update(prefix)
        h.update(body)
        return h.finalize()
    }

    static func check(prefixes: [[UInt8]], bodies: [[UInt8]], outputLength: Int, key: [UInt8], path: Blake2bLanes.Path) {
        let expected = zip(prefixes, bodies).map { reference($0, $1, outputLength: outputLength, key: key) }
        let got = withBuffers(prefixes) { p in
            withBuffers(bodies) { b in
                Blake2bLanes.hash((0..<b.count).map { Blake2bLanes.Message(prefix: p[$0], body: b[$0]) },
                                  outputLength: outputLength, key: key, path: path)
            }
        }
        #expect(got.count == expected.count * outputLength)
        for i in expected.indices {
            let digest = Array(got[(i * outputLength)..<((i + 1) * outputLength)])
            #expect(digest == expected[i], "message \(i): prefix \(prefixes[i].count), body \(bodies[i].count) bytes, key \(key.count), out \(outputLength), path \(path)")
        }
    }

    /// Runs `body` with pointers to every array (kept alive for the call).
    static func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        var pointers: [UnsafeRawBufferPointer] = []
        func recurse(_ i: Int) -> R {
            if i == arrays.count { return body(pointers) }
            return arrays[i].withUnsafeBytes { p in
                pointers.append(p)
                return recurse(i + 1)
            }
        }
        return recurse(0)
    }

    @Test(arguments: Blake2bLanes.availablePaths)
    func everyLengthAroundTheBlockSizes(path: Blake2bLanes.Path) {
        var rng = SeededRandom(seed: 7)
        // 0...300 crosses the empty message, one block, two blocks and partial ones; the
        // prefixes shift the body against the block boundaries.
        let lengths = Array(0...300) + [1023, 1024, 1025, 65_536, 65_537]
        let bodies = lengths.map { rng.bytes($0) }
        let prefixes = lengths.indices.map { rng.bytes($0 % 3 == 0 ? 0 : ($0 % 7 == 0 ? Blake2bLanes.prefixMax : $0 % 5)) }
        Self.check(prefixes: prefixes, bodies: bodies, outputLength: 32, key: [], path: path)
        Self.check(prefixes: prefixes, bodies: bodies, outputLength: 32, key: rng.bytes(32), path: path)
        Self.check(prefixes: prefixes, bodies: bodies, outputLength: 64, key: rng.bytes(64), path: path)
        Self.check(prefixes: prefixes, bodies: bodies, outputLength: 16, key: rng.bytes(1), path: path)
    }

    @Test(arguments: Blake2bLanes.availablePaths)
    func fewerMessagesThanLanesAndUnevenLengths(path: Blake2bLanes.Path) {
        var rng = SeededRandom(seed: 11)
        for count in 0...10 {
            let bodies = (0..<count).map { _ in rng.bytes(Int(rng.next() % 5_000)) }
            let prefixes = (0..<count).map { _ in rng.bytes(Int(rng.next() % 3)) }
            Self.check(prefixes: prefixes, bodies: bodies, outputLength: 32, key: rng.bytes(32), path: path)
        }
    }

    @Test func emptyKeyedAndUnkeyedMessagesMatchTheReference() {
        // RFC 7693: an empty unkeyed message is one zero block with counter 0; an empty
        // keyed message is the key block alone.
        let got = Blake2bLanes.hash([Blake2bLanes.Message(body: UnsafeRawBufferPointer(start: nil, count: 0))])
        #expect(Hex.encode(got) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        let key = Array(UInt8(0)..<64)
        let keyed = Blake2bLanes.hash([Blake2bLanes.Message(body: UnsafeRawBufferPointer(start: nil, count: 0))],
                                      outputLength: 64, key: key)
        #expect(keyed == Blake2b.hash([UInt8](), outputLength: 64, key: key))
    }

    @Test func theDefaultPathMatchesTheReferenceForFewAndManyMessages() {
        var rng = SeededRandom(seed: 13)
        for count in [1, 7, 31, 32, 100] {
            let bodies = (0..<count).map { _ in rng.bytes(Int(rng.next() % 70_000)) }
            let key = rng.bytes(32)
            let expected = bodies.map { Blake2b.hash($0, key: key) }.flatMap { $0 }
            let got = Self.withBuffers(bodies) { b in
                Blake2bLanes.hash(b.map { Blake2bLanes.Message(body: $0) }, key: key)
            }
            #expect(got == expected, "\(count) messages")
        }
    }

    @Test func availablePathsFollowTheCPUFlags() throws {
        // A fast path must not silently go unused on a CPU that has it, nor be chosen on
        // one that has not. Linux only: the flags come from /proc/cpuinfo.
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let words = Set(flags.split(separator: " "))
        var expected: [Blake2bLanes.Path] = [.portable]
        if words.contains("avx2") { expected.append(.avx2) }
        if words.contains("avx512f") && words.contains("avx512vl") { expected += [.avx512vl, .avx512] }
        #expect(Blake2bLanes.availablePaths == expected)
    }
}
