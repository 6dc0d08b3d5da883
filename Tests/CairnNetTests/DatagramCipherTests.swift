import CairnCrypto
import CairnNet
import CairnTestSupport
import Testing

@Suite struct DatagramCipherTests {
    /// The datagram ciphers of both ends of a fresh XX session.
    static func pair() throws -> (DatagramCipher, DatagramCipher) {
        var handshake = try HandshakePair(.xx)
        #expect(handshake.run() == nil)
        return (DatagramCipher(keys: try handshake.initiator.split()), DatagramCipher(keys: try handshake.responder.split()))
    }

    @Test func layoutIsCounterThenCiphertext() throws {
        var (a, b) = try Self.pair()
        _ = try a.seal([0])
        let datagram = try a.seal(Array("probe".utf8))
        #expect(datagram.count == 5 + DatagramCipher.overhead)
        #expect(Array(datagram.prefix(8)) == [0, 0, 0, 0, 0, 0, 0, 1], "counter 1, big-endian")
        #expect(try b.open(datagram) == Array("probe".utf8))
        #expect(a.nextSendCounter == 2)
        // Each direction has its own key: our own datagram does not open with our receive key.
        var ownEcho = a
        expectCode(.badCiphertext) { _ = try ownEcho.open(datagram) }
        #expect(try a.open(b.seal([5])) == [5])
    }

    @Test func outOfOrderIsAcceptedOnceAndReplaysAreRefused() throws {
        var (a, b) = try Self.pair()
        let datagrams = try (0..<10).map { try a.seal([UInt8($0)]) }
        for i in [3, 0, 9, 1, 2, 8, 4, 7, 5, 6] {
            #expect(try b.open(datagrams[i]) == [UInt8(i)])
        }
        for datagram in datagrams {
            expectCode(.badCiphertext) { _ = try b.open(datagram) }
        }
    }

    @Test func theWindowIs2048Counters() throws {
        var (a, b) = try Self.pair()
        var datagrams: [[UInt8]] = []
        for i in 0..<3000 { datagrams.append(try a.seal([UInt8(i % 256)])) }
        _ = try b.open(datagrams[2999])
        expectCode(.badCiphertext) { _ = try b.open(datagrams[2999 - 2048]) }  // too old
        expectCode(.badCiphertext) { _ = try b.open(datagrams[0]) }
        #expect(try b.open(datagrams[2999 - 2047]) == [UInt8((2999 - 2047) % 256)])  // the oldest still inside
        #expect(try b.open(datagrams[2500]) == [UInt8(2500 % 256)])
        expectCode(.badCiphertext) { _ = try b.open(datagrams[2500]) }
    }

    @Test func aForgeryNeitherOpensNorMovesTheWindow() throws {
        var (a, b) = try Self.pair()
        let early = try a.seal([1])
        // A datagram with a far-ahead counter and a tag that cannot verify.
        var forged = [UInt8](repeating: 0xAA, count: 40)
        forged.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 1, 0, 0])
        expectCode(.badCiphertext) { _ = try b.open(forged) }
        #expect(try b.open(early) == [1], "the window did not jump to the forged counter")
        var altered = try a.seal([2])
        altered[altered.count - 1] ^= 1
        expectCode(.badCiphertext) { _ = try b.open(altered) }
        // A genuine datagram whose counter was rewritten carries the wrong nonce.
        var renumbered = try a.seal([3])
        renumbered[7] = 9
        expectCode(.badCiphertext) { _ = try b.open(renumbered) }
        var maxCounter = try a.seal([4])
        maxCounter.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        expectCode(.badCiphertext) { _ = try b.open(maxCounter) }
    }

    @Test func lengthsAreBounded() throws {
        var (a, b) = try Self.pair()
        expectCode(.malformed) { _ = try b.open([UInt8](repeating: 0, count: DatagramCipher.overhead - 1)) }
        expectCode(.oversized) { _ = try b.open([UInt8](repeating: 0, count: DatagramCipher.datagramLengthMax + 1)) }
        expectCode(.oversized) { _ = try a.seal([UInt8](repeating: 0, count: DatagramCipher.plaintextLengthMax + 1)) }
        #expect(try b.open(a.seal([])) == [])
        let largest = try a.seal([UInt8](repeating: 9, count: DatagramCipher.plaintextLengthMax))
        #expect(largest.count == DatagramCipher.datagramLengthMax)
        #expect(try b.open(largest).count == DatagramCipher.plaintextLengthMax)
    }

    /// Random arrival orders against a model: a counter opens iff it was never opened and
    /// lies within 2048 of the highest opened so far.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func matchesTheModelWindow(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var (a, b) = try Self.pair()
        let total = 9000
        var datagrams: [[UInt8]] = []
        for _ in 0..<total { datagrams.append(try a.seal([])) }
        var opened = Set<Int>()
        var highest = -1
        for step in 0..<6000 {
            // Mostly near the front, sometimes far behind or far ahead.
            let jump = random.int(in: 0...20) == 0 ? random.int(in: -4000...2500) : random.int(in: -70...40)
            let counter = min(max(highest + jump, 0), total - 1)
            let expected = !opened.contains(counter) && (highest < 0 || counter > highest - 2048)
            var accepted = true
            do throws(NetError) { _ = try b.open(datagrams[counter]) } catch {
                accepted = false
                #expect(error.code == .badCiphertext)
            }
            #expect(accepted == expected, "seed \(seed) step \(step): counter \(counter), highest \(highest)")
            if accepted {
                opened.insert(counter)
                highest = max(highest, counter)
            }
        }
    }
}
