import CairnCrypto
import CairnNet
import CairnTestSupport
import Testing

/// Seeded random bytes into every entry point a peer reaches: each must refuse them with a
/// `NetError` of an expected code, never trap and never accept.
@Suite struct HostileBytesTests {
    static let rounds = 300

    /// Random bytes of a random length up to `max`, sometimes exactly `preferred` long.
    static func garbage(_ random: inout SeededRandom, max: Int, preferred: [Int]) -> [UInt8] {
        let length = random.int(in: 0...3) == 0 ? preferred[random.int(in: 0...(preferred.count - 1))] : random.int(in: 0...max)
        return random.bytes(length)
    }

    @Test(arguments: NoisePattern.allCases)
    func handshakeReadersRefuseGarbage(pattern: NoisePattern) throws {
        var random = SeededRandom(seed: 0x6e6f697365)
        for _ in 0..<Self.rounds {
            // The responder's first read, then (if it got through) its answer.
            var pair = try HandshakePair(pattern)
            let first = Self.garbage(&random, max: 300, preferred: [32, 48, 96, 128])
            do throws(NetError) {
                _ = try pair.responder.readMessage(first)
                // Only an untagged message 1 (NN, XX) can be read; the answer must then fail or
                // lead the initiator to refuse it.
                #expect(pattern != .ik)
                let answer = try pair.responder.writeMessage(payload: [])
                _ = try pair.initiator.writeMessage(payload: [])
                _ = try pair.initiator.readMessage(answer)
                Issue.record("\(pattern): garbage message 1 of \(first.count) bytes led to a completed message 2")
            } catch {
                #expect([.malformed, .handshakeFailed].contains(error.code), "\(error)")
            }
            // The initiator's read of message 2, after a genuine message 1.
            var second = try HandshakePair(pattern)
            _ = try second.initiator.writeMessage(payload: [])
            let reply = Self.garbage(&random, max: 300, preferred: [48, 64, 96, 112])
            #expect(throws: NetError.self) { _ = try second.initiator.readMessage(reply) }
        }
    }

    @Test func sessionResponderRefusesGarbage() throws {
        var random = SeededRandom(seed: 0x73657373)
        let owner = SigningKey.generate()
        let responderNode = try TestNode(owner: owner)
        for round in 0..<Self.rounds {
            var responder = SessionHandshake(responder: responderNode.identity)
            var message = Self.garbage(&random, max: 600, preferred: [33, 238, 512, 513])
            if !message.isEmpty, round % 2 == 0 { message[0] = UInt8(1 + round % 4 / 2) }  // a valid pattern byte
            do throws(NetError) {
                try responder.readMessage(message)
                // XX message 1 is unauthenticated: 33 bytes with byte 1 pass; the session must still fail later.
                #expect(message.count == 33 && message[0] == 1, "accepted \(message.count) bytes")
                _ = try responder.writeMessage()
                try responder.readMessage(Self.garbage(&random, max: 300, preferred: [205]))
                Issue.record("a garbage message 3 completed a session")
            } catch {
                #expect([.malformed, .handshakeFailed, .oversized].contains(error.code), "\(error)")
            }
            #expect(!responder.isComplete)
        }
    }

    @Test func certificateDecoderRefusesGarbage() {
        var random = SeededRandom(seed: 0x63657274)
        for _ in 0..<(Self.rounds * 3) {
            var bytes = Self.garbage(&random, max: 300, preferred: [NodeCertificate.encodedLength])
            if bytes.count >= 5, random.int(in: 0...1) == 0 { bytes.replaceSubrange(0..<5, with: Array("CRNC".utf8) + [1]) }
            do throws(NetError) {
                let certificate = try NodeCertificate(decoding: bytes)
                #expect(bytes.count == NodeCertificate.encodedLength && certificate.encoded == bytes)
                #expect(!certificate.isSignatureValid)
            } catch {
                #expect(error.code == .malformed, "\(error)")
            }
        }
    }

    @Test func transportOpenersRefuseGarbage() throws {
        var random = SeededRandom(seed: 0x64617461)
        var handshake = try HandshakePair(.nn)
        #expect(handshake.run() == nil)
        var keys = try handshake.responder.split()
        var datagrams = DatagramCipher(keys: keys)
        for _ in 0..<(Self.rounds * 3) {
            let datagram = Self.garbage(&random, max: 2000, preferred: [0, 23, 24, 25])
            #expect(throws: NetError.self) { _ = try datagrams.open(datagram) }
            let record = Self.garbage(&random, max: 2000, preferred: [0, 15, 16, 17])
            #expect(throws: NetError.self) { _ = try keys.receive.decrypt(record) }
        }
        #expect(keys.receive.nonce == 0)
    }
}
