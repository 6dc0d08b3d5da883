import CairnCrypto
import Testing

@testable import CairnNet

@Suite struct NoiseCipherTests {
    /// Both ends of a completed NN session.
    static func session() throws -> (NoiseTransportKeys, NoiseTransportKeys) {
        var pair = try HandshakePair(.nn)
        #expect(pair.run() == nil)
        return (try pair.initiator.split(), try pair.responder.split())
    }

    // MARK: Stream replay and damage

    @Test func replayedReorderedAndAlteredMessagesAreRefused() throws {
        var (a, b) = try Self.session()
        let first = try a.send.encrypt(Array("one".utf8))
        let second = try a.send.encrypt(Array("two".utf8), ad: [9])
        expectCode(.badCiphertext) { _ = try b.receive.decrypt(second, ad: [9]) }  // out of order
        #expect(b.receive.nonce == 0, "a refused message does not move the counter")
        #expect(try b.receive.decrypt(first) == Array("one".utf8))
        expectCode(.badCiphertext) { _ = try b.receive.decrypt(first) }  // replay
        expectCode(.badCiphertext) { _ = try b.receive.decrypt(second) }  // other associated data
        var altered = second
        altered[0] ^= 0x80
        expectCode(.badCiphertext) { _ = try b.receive.decrypt(altered, ad: [9]) }
        #expect(try b.receive.decrypt(second, ad: [9]) == Array("two".utf8))
        #expect(a.send.nonce == 2 && b.receive.nonce == 2)
    }

    @Test func lengthsAreBoundedBeforeWork() throws {
        var (a, b) = try Self.session()
        expectCode(.oversized) { _ = try a.send.encrypt([UInt8](repeating: 1, count: NoiseCipher.plaintextLengthMax + 1)) }
        let largest = try a.send.encrypt([UInt8](repeating: 1, count: NoiseCipher.plaintextLengthMax))
        #expect(largest.count == 65535)
        #expect(try b.receive.decrypt(largest).count == NoiseCipher.plaintextLengthMax)
        expectCode(.oversized) { _ = try b.receive.decrypt([UInt8](repeating: 0, count: 65536)) }
        expectCode(.malformed) { _ = try b.receive.decrypt([UInt8](repeating: 0, count: 15)) }
        let empty = try a.send.encrypt([])
        #expect(empty.count == 16)
        #expect(try b.receive.decrypt(empty) == [])
    }

    @Test func borrowedBytesGiveTheSameCiphertext() throws {
        var (a, b) = try Self.session()
        var copy = a.send
        let plaintext = Array("from a NIO buffer".utf8)
        let borrowed = try plaintext.withUnsafeBytes { p in try a.send.encrypt(p, ad: [1]) }
        #expect(try copy.encrypt(plaintext, ad: [1]) == borrowed)
        #expect(try borrowed.withUnsafeBytes { c in try b.receive.decrypt(c, ad: [1]) } == plaintext)
    }

    @Test func theNonceNeverWraps() throws {
        let key = SecureBytes(copying: [UInt8](repeating: 3, count: 32))
        var sender = NoiseCipher(key: key, nonce: UInt64.max - 1)
        var receiver = NoiseCipher(key: key, nonce: UInt64.max - 1)
        #expect(try receiver.decrypt(sender.encrypt([1])) == [1])
        expectCode(.overloaded) { _ = try sender.encrypt([2]) }
        expectCode(.overloaded) { _ = try receiver.decrypt([UInt8](repeating: 0, count: 17)) }
        #expect(sender.nonce == UInt64.max)
    }

    // MARK: Rekey

    @Test func rekeyChangesTheKeyAndBothSidesStayInStep() throws {
        var (a, b) = try Self.session()
        #expect(try b.receive.decrypt(a.send.encrypt([1, 2, 3])) == [1, 2, 3])
        var stale = a.send
        var unrekeyed = b.receive
        a.send.rekey()
        b.receive.rekey()
        let plaintext = Array("after rekey".utf8)
        let fresh = try a.send.encrypt(plaintext)
        let old = try stale.encrypt(plaintext)
        #expect(fresh != old, "same nonce, same plaintext: only the key differs")
        #expect(a.send.nonce == 2, "rekey keeps the counter")
        #expect(try b.receive.decrypt(fresh) == plaintext)
        expectCode(.badCiphertext) { _ = try unrekeyed.decrypt(fresh) }
        // The other direction is untouched.
        #expect(try a.receive.decrypt(b.send.encrypt([7])) == [7])
        // A second rekey moves again, still in step.
        a.send.rekey()
        b.receive.rekey()
        #expect(try b.receive.decrypt(a.send.encrypt([4])) == [4])
    }

    @Test func rekeyIsTheSpecsFunction() throws {
        // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros) (§11.3).
        let key = SecureBytes(copying: (0..<32).map { UInt8($0) })
        let block = [UInt8](repeating: 0, count: 32).withUnsafeBytes { z in
            NoisePrimitives.seal(key: key, nonce: UInt64.max, ad: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: z)
        }
        var expected = NoiseCipher(key: SecureBytes(copying: block.prefix(32)), nonce: 5)
        var cipher = NoiseCipher(key: key, nonce: 5)
        cipher.rekey()
        #expect(try cipher.encrypt([1, 2, 3]) == expected.encrypt([1, 2, 3]))
    }
}
