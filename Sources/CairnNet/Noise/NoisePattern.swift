/// The handshake patterns Cairn speaks (§7): NN for tests of the bare machinery, XX when
/// the peer's key is unknown (both statics travel encrypted), IK when the coordinator told
/// us the responder's key (one round trip, the initiator's static already in message 1).
public enum NoisePattern: Sendable, Hashable, CaseIterable {
    case nn, xx, ik

    /// The full protocol name hashed into the handshake: a peer on another pattern or
    /// suite cannot complete a handshake with us.
    public var protocolName: String {
        switch self {
        case .nn: "Noise_NN_25519_ChaChaPoly_BLAKE2b"
        case .xx: "Noise_XX_25519_ChaChaPoly_BLAKE2b"
        case .ik: "Noise_IK_25519_ChaChaPoly_BLAKE2b"
        }
    }

    /// One token of a message pattern.
    enum Token: Sendable { case e, s, ee, es, se, ss }

    /// The message patterns, initiator first, alternating.
    var messages: [[Token]] {
        switch self {
        case .nn: [[.e], [.e, .ee]]
        case .xx: [[.e], [.e, .ee, .s, .es], [.s, .se]]
        case .ik: [[.e, .es, .s, .ss], [.e, .ee, .se]]
        }
    }

    /// Whether the responder's static key is a pre-message (`<- s`), known to the initiator.
    var responderStaticIsKnown: Bool { self == .ik }
    /// Whether each side has a static key at all.
    var usesStaticKeys: Bool { self != .nn }
}

/// Which end of a handshake we are: the initiator writes the first message.
public enum NoiseRole: Sendable, Hashable {
    case initiator, responder
}
