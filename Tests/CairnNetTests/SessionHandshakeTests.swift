import CairnCrypto
import CairnTestSupport
import Testing

@testable import CairnNet

/// A node of some owner: its key, certificate and session identity.
struct TestNode {
    let owner: SigningKey
    let nodeKey: SigningKey
    let identity: SessionIdentity

    init(owner: SigningKey = SigningKey.generate(), issued: Int64 = 1_764_000_000_000) throws {
        self.owner = owner
        nodeKey = SigningKey.generate()
        let certificate = try NodeCertificate.issue(owner: owner, nodePublicKey: nodeKey.publicKey, issuedMilliseconds: issued)
        identity = try SessionIdentity(nodeKey: nodeKey, certificate: certificate)
    }
}

extension SessionHandshake: DrivableHandshake {
    mutating func write(index: Int) throws(NetError) -> [UInt8] {
        let wire = try writeMessage()
        #expect(wire.count <= SessionHandshake.messageLengthMax)
        return wire
    }

    mutating func read(_ message: [UInt8], index: Int, intact: Bool) throws(NetError) {
        try readMessage(message)
    }
}

/// Runs a session handshake to its end or its first failure (see `drive`).
func runSession(_ initiator: inout SessionHandshake, _ responder: inout SessionHandshake,
                damaging index: Int = -1, _ damage: ([UInt8]) -> [UInt8] = { $0 }) -> (Int, NetError)? {
    drive(&initiator, &responder, damaging: index, damage)
}

@Suite struct SessionHandshakeTests {
    // MARK: Mutual authentication

    @Test(arguments: [false, true])
    func mutualAuthenticationSucceeds(peerKeyKnown: Bool) throws {
        let alice = try TestNode()
        let bob = try TestNode()
        var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: peerKeyKnown ? bob.nodeKey.publicKey : nil)
        var responder = SessionHandshake(responder: bob.identity)
        #expect(responder.pattern == nil && !responder.isMyTurnToWrite)
        #expect(runSession(&initiator, &responder) == nil)
        let a = try initiator.established()
        var b = try responder.established()
        #expect(a.pattern == (peerKeyKnown ? .ik : .xx) && b.pattern == a.pattern)
        #expect(a.peerCertificate == bob.identity.certificate)
        #expect(b.peerCertificate == alice.identity.certificate)
        #expect(b.peerCertificate.ownerPublicKey == alice.owner.publicKey)
        #expect(a.keys.handshakeHash == b.keys.handshakeHash)
        var sender = a.keys.send
        #expect(try b.keys.receive.decrypt(sender.encrypt(Array("shard".utf8))) == Array("shard".utf8))
    }

    @Test func theNoiseStaticKeyIsTheConvertedNodeKey() throws {
        let node = try TestNode()
        #expect(try X25519KeyPair(nodeKey: node.nodeKey).publicKey
                == X25519KeyPair.publicKey(fromEd25519: node.nodeKey.publicKey))
        #expect(node.identity.staticKey.publicKey == (try X25519KeyPair.publicKey(fromEd25519: node.nodeKey.publicKey)))
        expectCode(.malformed) { _ = try X25519KeyPair.publicKey(fromEd25519: [1, 2]) }
    }

    // MARK: Certificates peers must refuse

    /// A responder whose identity is built unchecked from `certificate`.
    static func responder(presenting certificate: NodeCertificate, staticKeyOf nodeKey: SigningKey) throws -> SessionHandshake {
        SessionHandshake(responder: SessionIdentity(certificate: certificate, staticKey: try X25519KeyPair(nodeKey: nodeKey)))
    }

    @Test(arguments: [false, true])
    func aCertificateSignedByAnotherOwnerIsRefused(peerKeyKnown: Bool) throws {
        let alice = try TestNode()
        let bob = try TestNode()
        let mallory = SigningKey.generate()
        // Names bob's owner but is signed by mallory.
        let real = bob.identity.certificate
        let forged = try NodeCertificate(
            ownerPublicKey: real.ownerPublicKey, nodePublicKey: real.nodePublicKey, issuedMilliseconds: real.issuedMilliseconds,
            signature: mallory.sign(Array(real.encoded.prefix(NodeCertificate.signedLength))))
        #expect(!forged.isSignatureValid && real.isSignatureValid)
        var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: peerKeyKnown ? bob.nodeKey.publicKey : nil)
        var responder = try Self.responder(presenting: forged, staticKeyOf: bob.nodeKey)
        let (_, error) = try #require(runSession(&initiator, &responder))
        #expect(error.code == .handshakeFailed)
        expectCode(.handshakeFailed) { _ = try initiator.established() }
        expectCode(.handshakeFailed) { _ = try SessionIdentity(nodeKey: bob.nodeKey, certificate: forged) }
    }

    @Test(arguments: [false, true])
    func aCertificateForAnotherNodeKeyIsRefused(initiatorLies: Bool) throws {
        let honest = try TestNode()
        let liar = try TestNode()
        let other = try TestNode(owner: liar.owner)
        // The liar proves its own static key but shows the (valid) certificate of another node.
        let lying = SessionIdentity(certificate: other.identity.certificate, staticKey: try X25519KeyPair(nodeKey: liar.nodeKey))
        var initiator = try SessionHandshake(initiator: initiatorLies ? lying : honest.identity)
        var responder = SessionHandshake(responder: initiatorLies ? honest.identity : lying)
        let (failedAt, error) = try #require(runSession(&initiator, &responder))
        #expect(error.code == .handshakeFailed)
        #expect(failedAt == (initiatorLies ? 2 : 1), "refused on the message that carries the certificate")
        #expect(error.message.contains("not the key it proved"))
        expectCode(.handshakeFailed) { _ = try SessionIdentity(nodeKey: liar.nodeKey, certificate: other.identity.certificate) }
    }

    @Test func aTamperedCertificateIsRefused() throws {
        let alice = try TestNode()
        let bob = try TestNode()
        let real = bob.identity.certificate
        var tamperings: [NodeCertificate] = []
        tamperings.append(try NodeCertificate(ownerPublicKey: real.ownerPublicKey, nodePublicKey: real.nodePublicKey,
                                              issuedMilliseconds: real.issuedMilliseconds + 1, signature: real.signature))
        var signature = real.signature
        signature[10] ^= 4
        tamperings.append(try NodeCertificate(ownerPublicKey: real.ownerPublicKey, nodePublicKey: real.nodePublicKey,
                                              issuedMilliseconds: real.issuedMilliseconds, signature: signature))
        tamperings.append(try NodeCertificate(ownerPublicKey: alice.owner.publicKey, nodePublicKey: real.nodePublicKey,
                                              issuedMilliseconds: real.issuedMilliseconds, signature: real.signature))
        for tampered in tamperings {
            var initiator = try SessionHandshake(initiator: alice.identity)
            var responder = try Self.responder(presenting: tampered, staticKeyOf: bob.nodeKey)
            let (failedAt, error) = try #require(runSession(&initiator, &responder))
            #expect(failedAt == 1 && error.code == .handshakeFailed)
            #expect(error.message.contains("not signed by the owner it names"))
        }
    }

    @Test func ikToTheWrongKeyFails() throws {
        let alice = try TestNode()
        let bob = try TestNode()
        let carol = try TestNode()
        // Alice expects carol; bob answers.
        var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: carol.nodeKey.publicKey)
        var responder = SessionHandshake(responder: bob.identity)
        let (failedAt, error) = try #require(runSession(&initiator, &responder))
        #expect(failedAt == 0 && error.code == .handshakeFailed)
        expectCode(.handshakeFailed) { _ = try responder.established() }
    }

    // MARK: Hostile bytes

    @Test func thePatternByteIsCheckedAndBound() throws {
        let alice = try TestNode()
        let bob = try TestNode()
        // An unknown pattern, or XX's 33-byte message 1 read as IK (too short), or IK's read as
        // XX (whose message 1 has no payload).
        for (tag, ik) in [(UInt8(0), false), (3, false), (255, false), (2, false), (1, true)] {
            var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: ik ? bob.nodeKey.publicKey : nil)
            var responder = SessionHandshake(responder: bob.identity)
            let outcome = runSession(&initiator, &responder, damaging: 0) { [tag] + $0.dropFirst() }
            let (failedAt, error) = try #require(outcome, "tag \(tag)")
            #expect(failedAt == 0 && error.code == .malformed, "tag \(tag): \(error)")
        }
        var responder = SessionHandshake(responder: bob.identity)
        expectCode(.malformed) { try responder.readMessage([]) }
        var another = SessionHandshake(responder: bob.identity)
        expectCode(.oversized) { try another.readMessage([UInt8](repeating: 1, count: SessionHandshake.messageLengthMax + 1)) }
        var early = SessionHandshake(responder: bob.identity)
        expectCode(.handshakeFailed) { _ = try early.writeMessage() }
    }

    @Test(arguments: [false, true])
    func everyDamagedMessageFails(peerKeyKnown: Bool) throws {
        let alice = try TestNode()
        let bob = try TestNode()
        let messages = peerKeyKnown ? 2 : 3
        var random = SeededRandom(seed: peerKeyKnown ? 11 : 12)
        for index in 0..<messages {
            for _ in 0..<40 {
                var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: peerKeyKnown ? bob.nodeKey.publicKey : nil)
                var responder = SessionHandshake(responder: bob.identity)
                let outcome = runSession(&initiator, &responder, damaging: index) { wire in
                    var damaged = wire
                    // The pattern byte in front of message 0 is tested apart.
                    let at = random.int(in: (index == 0 ? 1 : 0)...(damaged.count - 1))
                    damaged[at] ^= 1 << UInt8(random.int(in: 0...7))
                    return damaged
                }
                let (_, error) = try #require(outcome, "message \(index) damaged, yet the session completed")
                #expect(error.code == .handshakeFailed)
                #expect(!initiator.isComplete || !responder.isComplete)
            }
        }
    }

    @Test(arguments: [false, true])
    func messageLengthsAreAsDocumented(peerKeyKnown: Bool) throws {
        let alice = try TestNode()
        let bob = try TestNode()
        var initiator = try SessionHandshake(initiator: alice.identity, peerNodeKey: peerKeyKnown ? bob.nodeKey.publicKey : nil)
        var responder = SessionHandshake(responder: bob.identity)
        var lengths: [Int] = []
        while initiator.isMyTurnToWrite || responder.isMyTurnToWrite {
            if initiator.isMyTurnToWrite {
                let wire = try initiator.writeMessage()
                lengths.append(wire.count)
                try responder.readMessage(wire)
            } else {
                let wire = try responder.writeMessage()
                lengths.append(wire.count)
                try initiator.readMessage(wire)
            }
        }
        // docs/DATA-FORMATS.md, "Sessions": pattern byte, keys, tags, 141-byte certificates.
        #expect(lengths == (peerKeyKnown ? [238, 189] : [33, 237, 205]))
        #expect(initiator.isComplete && responder.isComplete)
    }

    // MARK: Certificate format

    @Test func certificateRoundTripsAndIsBoundsChecked() throws {
        let node = try TestNode()
        let certificate = node.identity.certificate
        let bytes = certificate.encoded
        #expect(bytes.count == NodeCertificate.encodedLength && bytes.count == 141)
        #expect(Array(bytes.prefix(5)) == Array("CRNC".utf8) + [1])
        #expect(Array(bytes[5..<37]) == node.owner.publicKey && Array(bytes[37..<69]) == node.nodeKey.publicKey)
        #expect(Array(bytes[69..<77]) == [0, 0, 0x01, 0x9a, 0xb6, 0x97, 0xe8, 0x00], "issued ms, big-endian")
        #expect(try NodeCertificate(decoding: bytes) == certificate)
        for length in [0, 4, 5, 76, 140] {
            expectCode(.malformed) { _ = try NodeCertificate(decoding: Array(bytes.prefix(length))) }
        }
        expectCode(.malformed) { _ = try NodeCertificate(decoding: bytes + [0]) }
        var badMagic = bytes
        badMagic[0] = UInt8(ascii: "X")
        expectCode(.malformed) { _ = try NodeCertificate(decoding: badMagic) }
        var badVersion = bytes
        badVersion[4] = 2
        expectCode(.malformed) { _ = try NodeCertificate(decoding: badVersion) }
        // Decoding never checks the signature; verify() does.
        var flipped = bytes
        flipped[100] ^= 1
        let decoded = try NodeCertificate(decoding: flipped)
        expectCode(.handshakeFailed) { try decoded.verify() }
    }
}
