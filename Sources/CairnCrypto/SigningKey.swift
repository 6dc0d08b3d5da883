internal import CSodium

/// An Ed25519 signing key: the owner's identity, and each device's node key. The 64-byte
/// libsodium secret key (seed || public key) lives in `SecureBytes`; only the public key
/// is an ordinary array, because it is shown to people and sent to peers.
public struct SigningKey: Sendable {
    public static let seedSize = 32
    public static let publicKeySize = 32
    public static let signatureSize = 64

    private let secretKey: SecureBytes
    public let publicKey: [UInt8]

    /// The key pair determined by a 32-byte seed (from the owner's KDF, or a key file).
    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == Self.seedSize else {
            throw CryptoError(.invalidSignatureKey,
                              "an Ed25519 seed must be \(Self.seedSize) bytes, got \(seed.count); the key file or derivation is wrong")
        }
        let secure = SecureBytes(copying: seed)
        self.init(secureSeed: secure)
    }

    /// The key pair for a seed already held in secure memory (exactly 32 bytes).
    init(secureSeed seed: SecureBytes) {
        precondition(seed.count == Self.seedSize, "Ed25519 seed of \(seed.count) bytes")
        _ = Sodium.ready
        let secret = SecureBytes(count: Int(crypto_sign_secretkeybytes()))
        var publicKey = [UInt8](repeating: 0, count: Self.publicKeySize)
        let rc = seed.withUnsafeBytes { s in
            secret.withUnsafeMutableBytes { sk in
                publicKey.withUnsafeMutableBufferPointer { pk in
                    crypto_sign_seed_keypair(pk.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        precondition(rc == 0, "crypto_sign_seed_keypair rc=\(rc)")
        self.secretKey = secret
        self.publicKey = publicKey
    }

    /// A fresh key pair from the OS CSPRNG (node keys).
    public static func generate() -> SigningKey {
        let seed = SecureBytes(count: seedSize)
        seed.withUnsafeMutableBytes { SecureRandom.fill($0) }
        return SigningKey(secureSeed: seed)
    }

    /// A 64-byte detached signature over `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Self.signatureSize)
        let rc = withNonNullBytes(message) { m, mCount in
            secretKey.withUnsafeBytes { sk in
                signature.withUnsafeMutableBufferPointer { sig in
                    crypto_sign_detached(sig.baseAddress!, nil, m, UInt64(mCount),
                                         sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        precondition(rc == 0, "crypto_sign_detached rc=\(rc)")
        return signature
    }

    /// The 32-byte seed, to write a key file; the whole key pair follows from it.
    public var seedBytes: [UInt8] {
        secretKey.withUnsafeBytes { Array($0.prefix(Self.seedSize)) }
    }
}

/// Ed25519 signature checks, for data signed by peers and owners.
public enum Ed25519 {
    /// Whether `signature` is a valid signature of `message` by `publicKey`. Malformed input
    /// (wrong lengths) is simply not valid: this never traps on what a peer sends.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == SigningKey.signatureSize, publicKey.count == SigningKey.publicKeySize else { return false }
        _ = Sodium.ready
        return withNonNullBytes(signature) { sig, _ in
            withNonNullBytes(message) { m, mCount in
                withNonNullBytes(publicKey) { pk, _ in
                    crypto_sign_verify_detached(sig, m, UInt64(mCount), pk) == 0
                }
            }
        }
    }
}
