/// A 256-bit secret key for AEAD and keyed hashing, held in `SecureBytes` so it is wiped
/// when the last copy of the key goes away.
public struct SymmetricKey: Sendable {
    /// The size libsodium's XChaCha20-Poly1305, BLAKE2b-256 keys and KDF subkeys share.
    public static let byteCount = 32

    private let storage: SecureBytes

    /// Wraps key material read from a file or derived elsewhere.
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.wrongKeyLength,
                              "a symmetric key must be \(Self.byteCount) bytes, got \(bytes.count); the key file or derivation is wrong")
        }
        storage = SecureBytes(copying: bytes)
    }

    /// Takes ownership of `secure`, which must hold exactly 32 bytes (derivations inside the module).
    init(secure: SecureBytes) {
        precondition(secure.count == Self.byteCount, "SymmetricKey from \(secure.count) bytes")
        storage = secure
    }

    /// A fresh key from the OS CSPRNG.
    public static func random() -> SymmetricKey {
        let secure = SecureBytes(count: byteCount)
        secure.withUnsafeMutableBytes { SecureRandom.fill($0) }
        return SymmetricKey(secure: secure)
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }
}
