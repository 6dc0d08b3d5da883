import CairnCrypto

/// An X25519 key pair: a node's Noise static key (converted from its Ed25519 node key) or a
/// handshake's ephemeral key. The secret stays in `SecureBytes`, wiped when the last copy
/// of the pair goes away; only the public key is an ordinary array.
public struct X25519KeyPair: Sendable {
    /// Bytes of a secret and of a public key.
    public static let keyLength = 32

    let secret: SecureBytes
    public let publicKey: [UInt8]

    /// The pair for a 32-byte secret (a test vector's key, or a key kept elsewhere).
    public init(secret: [UInt8]) throws(NetError) {
        guard secret.count == Self.keyLength else {
            throw NetError(.malformed, "an X25519 secret key is \(Self.keyLength) bytes, got \(secret.count); the key material is wrong")
        }
        try self.init(secure: SecureBytes(copying: secret))
    }

    /// Takes ownership of a 32-byte secret already in secure memory.
    init(secure: SecureBytes) throws(NetError) {
        guard secure.count == Self.keyLength, let publicKey = NoisePrimitives.publicKey(of: secure) else {
            throw NetError(.malformed, "X25519 refused a \(secure.count)-byte secret key; the key material is wrong")
        }
        self.secret = secure
        self.publicKey = publicKey
    }

    /// A fresh pair from libsodium's CSPRNG (every handshake's ephemeral key).
    public static func generate() -> X25519KeyPair {
        let secure = SecureBytes(count: keyLength)
        secure.withUnsafeMutableBytes { SecureRandom.fill($0) }
        do {
            return try X25519KeyPair(secure: secure)
        } catch {
            preconditionFailure("X25519 refused a random secret: \(error)")
        }
    }

    /// DH(self, remote) (§12.1), refusing a result of all zeros: `remote` is then a
    /// low-order point, chosen by a peer to force a shared secret everyone knows.
    func agree(with remote: [UInt8]) throws(NetError) -> SecureBytes {
        guard remote.count == Self.keyLength else {
            throw NetError(.malformed, "an X25519 public key is \(Self.keyLength) bytes, got \(remote.count)")
        }
        guard let shared = NoisePrimitives.dh(secret: secret, publicKey: remote) else {
            throw NetError(.handshakeFailed,
                           "the peer's X25519 key is a low-order point (the shared secret would be all zeros); the peer is hostile or broken, drop it")
        }
        return shared
    }
}
