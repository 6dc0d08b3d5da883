import CairnCrypto

/// What a completed handshake yields, oriented for our role: the two Noise transport
/// ciphers for the stream (TCP) and two 32-byte keys for datagrams (UDP, `DatagramCipher`).
///
/// The datagram keys are HKDF(ck, "cairn/udp/v1", 2) from the final chaining key — the
/// secret that Split() also uses — never from the public handshake hash; the first output
/// protects initiator→responder datagrams, the second the reverse.
public struct NoiseTransportKeys: Sendable {
    /// HKDF input that separates the datagram keys from the stream keys.
    public static let datagramLabel = Array("cairn/udp/v1".utf8)

    /// Encrypts what we send on the stream.
    public var send: NoiseCipher
    /// Decrypts what the peer sends on the stream.
    public var receive: NoiseCipher
    /// Key for the datagrams we send.
    public let datagramSend: SecureBytes
    /// Key for the datagrams the peer sends.
    public let datagramReceive: SecureBytes
    /// The handshake hash `h`, the same on both sides: a public session id and channel binding.
    public let handshakeHash: [UInt8]
}
