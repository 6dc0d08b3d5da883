internal import CSodium
import CairnCrypto

extension X25519KeyPair {
    /// A node's Noise static key: its Ed25519 node key mapped to X25519 (libsodium's
    /// `crypto_sign_ed25519_sk_to_curve25519`), so one key both signs and proves itself in
    /// the handshake, and a certificate for the Ed25519 key vouches for the static key.
    public init(nodeKey: SigningKey) throws(NetError) {
        _ = NoisePrimitives.ready
        let edSecret = SecureBytes(count: Int(crypto_sign_secretkeybytes()))
        let curveSecret = SecureBytes(count: Self.keyLength)
        var seed = nodeKey.seedBytes
        var edPublic = [UInt8](repeating: 0, count: SigningKey.publicKeySize)
        let rc = seed.withUnsafeBufferPointer { s in
            edSecret.withUnsafeMutableBytes { sk in
                edPublic.withUnsafeMutableBufferPointer { pk in
                    let skPointer = sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    guard crypto_sign_seed_keypair(pk.baseAddress!, skPointer, s.baseAddress!) == 0 else { return Int32(-1) }
                    return curveSecret.withUnsafeMutableBytes { c in
                        crypto_sign_ed25519_sk_to_curve25519(c.baseAddress!.assumingMemoryBound(to: UInt8.self), skPointer)
                    }
                }
            }
        }
        seed.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        guard rc == 0 else {
            throw NetError(.malformed, "the node key could not be converted to an X25519 key (rc=\(rc)); the key file is damaged")
        }
        try self.init(secure: curveSecret)
        precondition(edPublic == nodeKey.publicKey, "the node key's seed gave another public key")
    }

    /// The X25519 public key an Ed25519 public key maps to; refuses what is not a valid
    /// Ed25519 point (or is one of small order).
    public static func publicKey(fromEd25519 edPublicKey: [UInt8]) throws(NetError) -> [UInt8] {
        _ = NoisePrimitives.ready
        guard edPublicKey.count == SigningKey.publicKeySize else {
            throw NetError(.malformed, "an Ed25519 public key is \(SigningKey.publicKeySize) bytes, got \(edPublicKey.count)")
        }
        var curve = [UInt8](repeating: 0, count: keyLength)
        let rc = edPublicKey.withUnsafeBufferPointer { ed in
            curve.withUnsafeMutableBufferPointer { c in crypto_sign_ed25519_pk_to_curve25519(c.baseAddress!, ed.baseAddress!) }
        }
        guard rc == 0 else {
            throw NetError(.handshakeFailed, "\(Hex.encode(edPublicKey)) is not a usable Ed25519 node key; the peer is broken or hostile")
        }
        return curve
    }
}
