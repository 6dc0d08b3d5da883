import CairnCrypto

/// Cairn's session handshake between two certified nodes, message by message and without
/// I/O: the transport moves each message (one TCP frame) and, at the end, takes the
/// verified peer certificate and the transport keys from `established()`.
///
/// XX when the initiator does not know the peer's key, IK when it does (the coordinator
/// told it). The initiator's first message starts with one byte naming the pattern (1 =
/// XX, 2 = IK) so the responder knows which to run; the pattern is also in the Noise
/// protocol name, so changing that byte only makes the handshake fail. The prologue
/// "cairn session v1" binds the protocol version.
///
/// Certificates travel in the payload that proves the static key they certify (XX:
/// messages 2 and 3; IK: message 1, and message 2 for the responder, whose static key the
/// initiator already had). Each side checks the owner's signature and that the
/// certificate's node key, converted to X25519, is the static key the handshake proved.
///
/// An IK responder completes on writing message 2, yet message 1 may be a replay: act on
/// such a session only after the initiator's first transport record decrypts.
public struct SessionHandshake: Sendable {
    public static let prologue = Array("cairn session v1".utf8)
    /// No message of this handshake is longer: a transport may refuse longer frames unread.
    public static let messageLengthMax = 512

    /// The first byte of the initiator's first message.
    enum PatternTag: UInt8 {
        case xx = 1, ik = 2
    }

    private let identity: SessionIdentity
    private let role: NoiseRole
    private let expectedPeerNodeKey: [UInt8]?
    private let ephemeral: X25519KeyPair?
    /// Nil for a responder until the first message names the pattern.
    private var noise: NoiseHandshake?
    private var peerCertificate: NodeCertificate?
    private var failure: NetError?

    /// Opens a session to a peer: IK if `peerNodeKey` (its Ed25519 key) is known, else XX.
    /// `ephemeral` is for tests only.
    public init(initiator identity: SessionIdentity, peerNodeKey: [UInt8]? = nil,
                ephemeral: X25519KeyPair? = nil) throws(NetError) {
        self.identity = identity
        self.role = .initiator
        self.expectedPeerNodeKey = peerNodeKey
        self.ephemeral = ephemeral
        if let peerNodeKey {
            let peerStatic = try X25519KeyPair.publicKey(fromEd25519: peerNodeKey)
            noise = try NoiseHandshake(pattern: .ik, role: .initiator, prologue: Self.prologue,
                                       localStatic: identity.staticKey, remoteStatic: peerStatic, ephemeral: ephemeral)
        } else {
            noise = try NoiseHandshake(pattern: .xx, role: .initiator, prologue: Self.prologue,
                                       localStatic: identity.staticKey, remoteStatic: nil, ephemeral: ephemeral)
        }
    }

    /// Answers a session a peer opens, in whichever pattern its first message names.
    public init(responder identity: SessionIdentity, ephemeral: X25519KeyPair? = nil) {
        self.identity = identity
        self.role = .responder
        self.expectedPeerNodeKey = nil
        self.ephemeral = ephemeral
        self.noise = nil
    }

    /// The pattern in use (nil for a responder before the first message).
    public var pattern: NoisePattern? { noise?.pattern }

    public var isComplete: Bool { failure == nil && (noise?.isComplete ?? false) && peerCertificate != nil }

    public var isMyTurnToWrite: Bool { failure == nil && (noise?.isMyTurnToWrite ?? false) }

    /// The next message to send.
    public mutating func writeMessage() throws(NetError) -> [UInt8] {
        try checkUsable()
        guard var noise else {
            throw NetError(.handshakeFailed, "a responder sends nothing before the initiator's first message")
        }
        do {
            let message = try noise.writeMessage(payload: certificatePayloadDue(in: noise) ? identity.certificate.encoded : [])
            self.noise = noise
            if role == .initiator && noise.messageIndex == 1 {
                return [noise.pattern == .ik ? PatternTag.ik.rawValue : PatternTag.xx.rawValue] + message
            }
            return message
        } catch {
            self.noise = noise
            failure = error
            throw error
        }
    }

    /// Takes the peer's next message; checks its certificate when it carries one.
    public mutating func readMessage(_ message: [UInt8]) throws(NetError) {
        try checkUsable()
        do throws(NetError) {
            guard message.count <= Self.messageLengthMax else {
                throw NetError(.oversized, "a session handshake message is at most \(Self.messageLengthMax) bytes, got \(message.count); the peer is broken or hostile")
            }
            var body = message
            if noise == nil {
                body = try startResponding(to: message)
            }
            guard var noise else { preconditionFailure("no handshake after the first message") }
            let payload: [UInt8]
            do throws(NetError) {
                payload = try noise.readMessage(body)
            } catch {
                self.noise = noise
                throw error
            }
            self.noise = noise
            if certificatePayloadDue(in: noise, reading: true) {
                peerCertificate = try checkedPeerCertificate(payload, provedStatic: noise.remoteStatic)
            } else if !payload.isEmpty {
                throw NetError(.malformed, "handshake message \(noise.messageIndex) carries \(payload.count) unexpected bytes")
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// The verified peer and the session keys; only once complete.
    public func established() throws(NetError) -> EstablishedSession {
        try checkUsable()
        guard let noise, isComplete, let peerCertificate else {
            throw NetError(.handshakeFailed, "the session handshake is not complete; finish it first")
        }
        return EstablishedSession(peerCertificate: peerCertificate, keys: try noise.split(), pattern: noise.pattern)
    }

    // MARK: Steps

    private func checkUsable() throws(NetError) {
        if let failure {
            throw NetError(.handshakeFailed, "the session handshake already failed; drop the connection: \(failure.message)",
                           cause: failure)
        }
    }

    /// The responder's first read: the pattern byte picks the handshake.
    private mutating func startResponding(to message: [UInt8]) throws(NetError) -> [UInt8] {
        guard let first = message.first else {
            throw NetError(.malformed, "an empty first handshake message; the peer is not speaking Cairn")
        }
        let pattern: NoisePattern
        switch PatternTag(rawValue: first) {
        case .xx: pattern = .xx
        case .ik: pattern = .ik
        case nil: throw NetError(.malformed, "the first handshake message names pattern \(first), not 1 (XX) or 2 (IK); the peer is not speaking Cairn v1")
        }
        noise = try NoiseHandshake(pattern: pattern, role: .responder, prologue: Self.prologue,
                                   localStatic: identity.staticKey, remoteStatic: nil, ephemeral: ephemeral)
        return Array(message.dropFirst())
    }

    /// Whether the message just written (or read) is the one that carries the writer's certificate.
    private func certificatePayloadDue(in noise: NoiseHandshake, reading: Bool = false) -> Bool {
        // The index of the message in question: the next one when writing, the one just read.
        let index = reading ? noise.messageIndex - 1 : noise.messageIndex
        switch noise.pattern {
        case .xx: return index == 1 || index == 2
        case .ik: return index == 0 || index == 1
        case .nn: return false
        }
    }

    private func checkedPeerCertificate(_ payload: [UInt8], provedStatic: [UInt8]?) throws(NetError) -> NodeCertificate {
        let certificate: NodeCertificate
        do {
            certificate = try NodeCertificate(decoding: payload)
        } catch {
            throw NetError(.handshakeFailed, "the peer's certificate does not decode", cause: error)
        }
        try certificate.verify()
        guard let provedStatic,
              try X25519KeyPair.publicKey(fromEd25519: certificate.nodePublicKey) == provedStatic
        else {
            throw NetError(.handshakeFailed, "the peer's certificate is for node key \(Hex.encode(certificate.nodePublicKey)), which is not the key it proved in the handshake; drop the peer")
        }
        if let expectedPeerNodeKey, certificate.nodePublicKey != expectedPeerNodeKey {
            throw NetError(.handshakeFailed, "the peer is node \(Hex.encode(certificate.nodePublicKey)), not \(Hex.encode(expectedPeerNodeKey)) as expected")
        }
        return certificate
    }
}

/// A session both sides have proved: who the peer is (its verified certificate; whether
/// its owner is welcome is the caller's decision) and the keys to talk with it.
public struct EstablishedSession: Sendable {
    public let peerCertificate: NodeCertificate
    public var keys: NoiseTransportKeys
    public let pattern: NoisePattern
}
