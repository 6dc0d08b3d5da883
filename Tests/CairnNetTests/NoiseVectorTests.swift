import CairnCrypto
import CairnNet
import Testing

/// Replays every published vector through both sides: each handshake and transport
/// message byte for byte, each payload back, the same handshake hash and learned keys.
@Suite struct NoiseVectorTests {
    @Test(arguments: NoisePattern.allCases)
    func replaysVector(pattern: NoisePattern) throws {
        let vector = try NoiseVectors.vector(for: pattern)
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
                #expect(Hex.encode(wire) == message.ciphertext, "\(pattern) handshake message \(index)")
                #expect(received == payload, "\(pattern) handshake message \(index) payload")
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
                #expect(wire == expected, "\(pattern) transport message \(index)")
                #expect(try receiver.receive.decrypt(wire) == payload, "\(pattern) transport message \(index) payload")
                if initiatorSends { (initiatorKeys, responderKeys) = (sender, receiver) } else { (responderKeys, initiatorKeys) = (sender, receiver) }
            }
        }
        #expect(handshakeMessages == (pattern == .xx ? 3 : 2))
        #expect(handshakeMessages < vector.messages.count, "the vector has transport messages too")
        #expect(Hex.encode(initiator.handshakeHash) == vector.handshakeHash)
        #expect(Hex.encode(responder.handshakeHash) == vector.handshakeHash)
        #expect(initiatorKeys?.handshakeHash == initiator.handshakeHash)
        #expect(initiator.remoteStatic == responderStatic?.publicKey)
        #expect(responder.remoteStatic == initiatorStatic?.publicKey)
        // Each direction's transport counter moved once per message it carried.
        let transport = UInt64(vector.messages.count - handshakeMessages)
        #expect((initiatorKeys?.send.nonce ?? 0) + (responderKeys?.send.nonce ?? 0) == transport)
    }

    @Test func everyVectorIsOneWeSpeak() throws {
        let names = try NoiseVectors.load().vectors.map(\.protocolName)
        #expect(names.sorted() == NoisePattern.allCases.map(\.protocolName).sorted())
    }
}
