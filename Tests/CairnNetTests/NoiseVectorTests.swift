import CairnCrypto
import CairnNet
import Testing

/// Replays every published vector of a pattern cairn speaks through both sides: each
/// handshake and transport message byte for byte, each payload back, the same handshake
/// hash and learned keys. Any number of vectors per pattern; vectors of other protocols in
/// the file are left out.
@Suite struct NoiseVectorTests {
    @Test(arguments: NoisePattern.allCases)
    func replaysEveryVector(pattern: NoisePattern) throws {
        let vectors = try NoiseVectors.vectors(for: pattern)
        try #require(!vectors.isEmpty, "no vector for \(pattern.protocolName) in Vectors/noise-vectors.json")
        for (index, vector) in vectors.enumerated() {
            try replay(vector, pattern: pattern, label: "\(pattern.protocolName) vector \(index)")
        }
    }

    func replay(_ vector: NoiseVectors.Vector, pattern: NoisePattern, label: String) throws {
        let initiatorStatic = try vector.initStatic.map { try X25519KeyPair(secret: hex($0)) }
        let responderStatic = try vector.respStatic.map { try X25519KeyPair(secret: hex($0)) }
        var initiator = try NoiseHandshake(
            pattern: pattern, role: .initiator, prologue: hex(vector.initPrologue), localStatic: initiatorStatic,
            remoteStatic: vector.initRemoteStatic.map(hex), ephemeral: X25519KeyPair(secret: hex(vector.initEphemeral)))
        var responder = try NoiseHandshake(
            pattern: pattern, role: .responder, prologue: hex(vector.respPrologue), localStatic: responderStatic,
            remoteStatic: nil, ephemeral: X25519KeyPair(secret: hex(vector.respEphemeral)))

        var initiatorKeys: NoiseTransportKeys?
        var responderKeys: NoiseTransportKeys?
        var handshakeMessages = 0
        for (index, message) in vector.messages.enumerated() {
            let payload = try hex(message.payload)
            let expected = try hex(message.ciphertext)
            let initiatorSends = index % 2 == 0
            if !initiator.isComplete {
                #expect(initiator.isMyTurnToWrite == initiatorSends && responder.isMyTurnToWrite == !initiatorSends)
                let wire: [UInt8]
                let received: [UInt8]
                if initiatorSends {
                    wire = try initiator.writeMessage(payload: payload)
                    received = try responder.readMessage(wire)
                } else {
                    wire = try responder.writeMessage(payload: payload)
                    received = try initiator.readMessage(wire)
                }
                #expect(wire == expected, "\(label): handshake message \(index)")
                #expect(received == payload, "\(label): handshake message \(index) payload")
                handshakeMessages += 1
                if initiator.isComplete {
                    #expect(responder.isComplete)
                    initiatorKeys = try initiator.split()
                    responderKeys = try responder.split()
                }
            } else {
                var sender = try #require(initiatorSends ? initiatorKeys : responderKeys)
                var receiver = try #require(initiatorSends ? responderKeys : initiatorKeys)
                let wire = try sender.send.encrypt(payload)
                #expect(wire == expected, "\(label): transport message \(index)")
                #expect(try receiver.receive.decrypt(wire) == payload, "\(label): transport message \(index) payload")
                if initiatorSends { (initiatorKeys, responderKeys) = (sender, receiver) } else { (responderKeys, initiatorKeys) = (sender, receiver) }
            }
        }
        #expect(handshakeMessages == (pattern == .xx ? 3 : 2), "\(label)")
        #expect(initiator.isComplete && responder.isComplete, "\(label): the handshake did not complete")
        if let hash = try vector.handshakeHash.map(hex) {
            #expect(initiator.handshakeHash == hash, "\(label)")
            #expect(responder.handshakeHash == hash, "\(label)")
        }
        #expect(initiatorKeys?.handshakeHash == initiator.handshakeHash)
        #expect(initiator.remoteStatic == responderStatic?.publicKey)
        #expect(responder.remoteStatic == initiatorStatic?.publicKey)
        // Each direction's transport counter moved once per message it carried.
        let transport = UInt64(vector.messages.count - handshakeMessages)
        #expect((initiatorKeys?.send.nonce ?? 0) + (responderKeys?.send.nonce ?? 0) == transport)
    }

    /// The committed file carries (at least) the three published vectors cairn relies on,
    /// and every one of its transport messages is replayed somewhere.
    @Test func theCommittedFileHasEveryPatternWeSpeakWithTransportMessages() throws {
        for pattern in NoisePattern.allCases {
            let vectors = try NoiseVectors.vectors(for: pattern)
            #expect(!vectors.isEmpty, "no vector for \(pattern.protocolName)")
            #expect(vectors.allSatisfy { $0.messages.count > (pattern == .xx ? 3 : 2) && $0.handshakeHash != nil },
                    "\(pattern.protocolName): a committed vector without transport messages or handshake hash")
        }
    }
}
