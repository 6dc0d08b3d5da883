/// A Noise HandshakeState (§5.3) for NN, XX or IK over `25519_ChaChaPoly_BLAKE2b`: pure
/// state, no I/O. The caller moves the messages (TCP frames) and calls `split()` at the end.
///
/// Every failure — a message of the wrong length, a bad tag, a low-order key, a message
/// out of turn or after the end — throws a `NetError` and poisons the handshake, so a
/// half-processed hostile message can never be followed by a successful one.
public struct NoiseHandshake: Sendable {
    public let pattern: NoisePattern
    public let role: NoiseRole

    private var symmetric: SymmetricState
    private let localStatic: X25519KeyPair?
    private var localEphemeral: X25519KeyPair?
    /// The peer's static public key: given (IK initiator) or learned and proved by the
    /// handshake (XX, IK responder). Nil until then.
    public private(set) var remoteStatic: [UInt8]?
    private var remoteEphemeral: [UInt8]?
    /// Messages written or read so far.
    private(set) var messageIndex = 0
    private var failure: NetError?

    /// Starts a handshake. `localStatic` is required for XX and IK, `remoteStatic` exactly
    /// for the IK initiator; `ephemeral` is injected by tests only (otherwise fresh from
    /// libsodium's CSPRNG). `prologue` binds what both sides must agree on (our protocol
    /// version) into the handshake hash.
    public init(pattern: NoisePattern, role: NoiseRole, prologue: [UInt8], localStatic: X25519KeyPair?,
                remoteStatic: [UInt8]?, ephemeral: X25519KeyPair? = nil) throws(NetError) {
        switch (pattern.usesStaticKeys, localStatic) {
        case (true, nil): throw NetError(.handshakeFailed, "a \(pattern.protocolName) handshake needs our static key")
        case (false, .some): throw NetError(.handshakeFailed, "a \(pattern.protocolName) handshake has no static keys; pass none")
        default: break
        }
        let needsRemote = pattern.responderStaticIsKnown && role == .initiator
        if needsRemote {
            guard let remoteStatic else {
                throw NetError(.handshakeFailed, "an \(pattern.protocolName) initiator must know the responder's static key")
            }
            guard remoteStatic.count == X25519KeyPair.keyLength else {
                throw NetError(.malformed, "an X25519 public key is \(X25519KeyPair.keyLength) bytes, got \(remoteStatic.count)")
            }
        } else if remoteStatic != nil {
            throw NetError(.handshakeFailed, "a \(pattern.protocolName) \(role) learns the peer's static key from the handshake; pass none")
        }
        self.pattern = pattern
        self.role = role
        self.localStatic = localStatic
        self.localEphemeral = ephemeral
        self.remoteStatic = remoteStatic
        symmetric = SymmetricState(protocolName: pattern.protocolName)
        symmetric.mixHash(prologue)
        if pattern.responderStaticIsKnown {
            // `<- s`: both sides hash the responder's static public key first.
            let responderKey = role == .initiator ? remoteStatic : localStatic?.publicKey
            symmetric.mixHash(responderKey ?? [])
        }
    }

    /// Whether every message of the pattern has been written or read.
    public var isComplete: Bool { failure == nil && messageIndex == pattern.messages.count }

    /// Whether the next message is ours to write (false once complete or failed).
    public var isMyTurnToWrite: Bool {
        failure == nil && messageIndex < pattern.messages.count && (messageIndex % 2 == 0) == (role == .initiator)
    }

    /// `h`: the transcript hash, identical on both sides once complete (channel binding).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    // MARK: Writing

    /// WriteMessage(payload): the next handshake message, carrying `payload` (encrypted
    /// once a DH has been mixed in).
    public mutating func writeMessage(payload: [UInt8]) throws(NetError) -> [UInt8] {
        let tokens = try nextTokens(writing: true)
        let length = messageLength(tokens, payload: payload.count)
        guard length <= NoisePrimitives.messageLengthMax else {
            throw NetError(.oversized, "handshake message \(messageIndex + 1) would be \(length) bytes, more than Noise's \(NoisePrimitives.messageLengthMax); send a smaller payload")
        }
        do {
            var message: [UInt8] = []
            message.reserveCapacity(length)
            for token in tokens {
                switch token {
                case .e:
                    let ephemeral = localEphemeral ?? X25519KeyPair.generate()
                    localEphemeral = ephemeral
                    message += ephemeral.publicKey
                    symmetric.mixHash(ephemeral.publicKey)
                case .s:
                    message += try symmetric.encryptAndHash(localStatic!.publicKey)
                default:
                    try mixDH(token)
                }
            }
            message += try symmetric.encryptAndHash(payload)
            precondition(message.count == length, "handshake message of \(message.count) bytes, expected \(length)")
            messageIndex += 1
            return message
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: Reading

    /// ReadMessage(message): checks the next message from the peer and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NetError) -> [UInt8] {
        let tokens = try nextTokens(writing: false)
        guard message.count <= NoisePrimitives.messageLengthMax else {
            failure = NetError(.oversized, "handshake message \(messageIndex + 1) is \(message.count) bytes, more than Noise's \(NoisePrimitives.messageLengthMax)")
            throw failure!
        }
        let minimum = messageLength(tokens, payload: 0)
        guard message.count >= minimum else {
            failure = NetError(.malformed, "handshake message \(messageIndex + 1) of \(pattern.protocolName) is at least \(minimum) bytes, got \(message.count); it was cut short")
            throw failure!
        }
        do {
            var offset = 0
            func take(_ n: Int) -> [UInt8] {
                defer { offset += n }
                return Array(message[offset..<offset + n])
            }
            for token in tokens {
                switch token {
                case .e:
                    let ephemeral = take(NoisePrimitives.dhLength)
                    remoteEphemeral = ephemeral
                    symmetric.mixHash(ephemeral)
                case .s:
                    let sealed = take(NoisePrimitives.dhLength + (symmetric.hasKey ? NoisePrimitives.tagLength : 0))
                    remoteStatic = try symmetric.decryptAndHash(sealed)
                default:
                    try mixDH(token)
                }
            }
            let payload = try symmetric.decryptAndHash(Array(message[offset...]))
            messageIndex += 1
            return payload
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: Split

    /// Split() (§5.2) plus Cairn's datagram keys, both oriented for our role. Only after
    /// the last message.
    public func split() throws(NetError) -> NoiseTransportKeys {
        guard isComplete else {
            throw NetError(.handshakeFailed, failure.map { "the handshake failed, it has no keys: \($0.message)" }
                           ?? "the handshake is not complete (message \(messageIndex + 1) of \(pattern.messages.count) is next); finish it before splitting")
        }
        let (initiatorToResponder, responderToInitiator) = symmetric.deriveKeyPair(label: [])
        let (datagramInitiator, datagramResponder) = symmetric.deriveKeyPair(label: NoiseTransportKeys.datagramLabel)
        let isInitiator = role == .initiator
        return NoiseTransportKeys(
            send: NoiseCipher(key: isInitiator ? initiatorToResponder : responderToInitiator),
            receive: NoiseCipher(key: isInitiator ? responderToInitiator : initiatorToResponder),
            datagramSend: isInitiator ? datagramInitiator : datagramResponder,
            datagramReceive: isInitiator ? datagramResponder : datagramInitiator,
            handshakeHash: symmetric.handshakeHash)
    }

    // MARK: Steps

    /// The tokens of the next message, if it is ours to write (or read) now.
    private func nextTokens(writing: Bool) throws(NetError) -> [NoisePattern.Token] {
        if let failure {
            throw NetError(.handshakeFailed, "the handshake already failed; drop the connection: \(failure.message)", cause: failure)
        }
        guard messageIndex < pattern.messages.count else {
            throw NetError(.handshakeFailed, "the \(pattern.protocolName) handshake is complete; a further handshake message is a protocol error")
        }
        let ours = (messageIndex % 2 == 0) == (role == .initiator)
        guard ours == writing else {
            throw NetError(.handshakeFailed, writing
                           ? "handshake message \(messageIndex + 1) is the peer's to send; read it first"
                           : "handshake message \(messageIndex + 1) is ours to send; the peer spoke out of turn")
        }
        return pattern.messages[messageIndex]
    }

    /// Bytes a message of `tokens` takes with a `payload`-byte payload, from the current state.
    private func messageLength(_ tokens: [NoisePattern.Token], payload: Int) -> Int {
        var keyed = symmetric.hasKey
        var length = 0
        for token in tokens {
            switch token {
            case .e: length += NoisePrimitives.dhLength
            case .s: length += NoisePrimitives.dhLength + (keyed ? NoisePrimitives.tagLength : 0)
            case .ee, .es, .se, .ss: keyed = true
            }
        }
        return length + payload + (keyed ? NoisePrimitives.tagLength : 0)
    }

    /// MixKey(DH(…)) for a DH token, from our side of it.
    private mutating func mixDH(_ token: NoisePattern.Token) throws(NetError) {
        let initiator = role == .initiator
        let (local, remote): (X25519KeyPair?, [UInt8]?)
        switch token {
        case .ee: (local, remote) = (localEphemeral, remoteEphemeral)
        case .es: (local, remote) = initiator ? (localEphemeral, remoteStatic) : (localStatic, remoteEphemeral)
        case .se: (local, remote) = initiator ? (localStatic, remoteEphemeral) : (localEphemeral, remoteStatic)
        case .ss: (local, remote) = (localStatic, remoteStatic)
        case .e, .s: preconditionFailure("\(token) is not a DH token")
        }
        guard let local, let remote else {
            preconditionFailure("\(pattern.protocolName) \(role) token \(token) before its keys are known")
        }
        symmetric.mixKey(try local.agree(with: remote))
    }
}
