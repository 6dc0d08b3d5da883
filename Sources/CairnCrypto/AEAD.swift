internal import CSodium

/// XChaCha20-Poly1305 (IETF) authenticated encryption, the format of every sealed pack and
/// snapshot. The 24-byte nonce is random per message — long enough that random nonces never
/// collide in practice — and travels in front of the ciphertext, so callers keep no counters.
///
/// Sealed layout: `nonce (24) || ciphertext (plaintext.count) || tag (16)`.
public enum AEAD {
    public static let nonceSize = 24
    public static let tagSize = 16
    /// Bytes a sealed box adds to its plaintext.
    public static let overhead = nonceSize + tagSize

    /// Encrypts `plaintext` under `key` with a fresh random nonce, binding `associatedData`
    /// (which is authenticated but not stored). The output is allocated once and written in place.
    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: SymmetricKey, associatedData: [UInt8] = []) -> [UInt8] {
        _ = Sodium.ready
        let sealedCount = plaintext.count + overhead
        return [UInt8](unsafeUninitializedCapacity: sealedCount) { out, initialized in
            let nonce = out.baseAddress!
            randombytes_buf(nonce, nonceSize)
            var written: UInt64 = 0
            let rc = withNonNullBytes(plaintext) { m, mCount in
                withNonNullBytes(associatedData) { ad, adCount in
                    key.withUnsafeBytes { k in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            nonce + nonceSize, &written,
                            m, UInt64(mCount), ad, UInt64(adCount),
                            nil, nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            precondition(rc == 0 && written == UInt64(plaintext.count + tagSize),
                         "crypto_aead_xchacha20poly1305_ietf_encrypt rc=\(rc) wrote \(written) for \(plaintext.count)")
            initialized = sealedCount
        }
    }

    public static func seal(_ plaintext: [UInt8], key: SymmetricKey, associatedData: [UInt8] = []) -> [UInt8] {
        plaintext.withUnsafeBytes { seal($0, key: key, associatedData: associatedData) }
    }

    /// Verifies and decrypts a box made by `seal` with the same key and associated data.
    /// Throws `.truncatedCiphertext` when the input cannot be a box at all and
    /// `.authenticationFailed` when the tag does not verify; no plaintext is returned then.
    public static func open(_ sealed: UnsafeRawBufferPointer, key: SymmetricKey, associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        _ = Sodium.ready
        guard sealed.count >= overhead else {
            throw CryptoError(.truncatedCiphertext,
                              "sealed data is \(sealed.count) bytes, less than the \(overhead)-byte nonce and tag; it was cut short or is not Cairn ciphertext")
        }
        let plaintextCount = sealed.count - overhead
        var rc: Int32 = -1
        let plaintext = [UInt8](unsafeUninitializedCapacity: plaintextCount) { out, initialized in
            let input = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var written: UInt64 = 0
            func decrypt(into m: UnsafeMutablePointer<UInt8>) -> Int32 {
                withNonNullBytes(associatedData) { ad, adCount in
                    key.withUnsafeBytes { k in
                        crypto_aead_xchacha20poly1305_ietf_decrypt(
                            m, &written, nil,
                            input + nonceSize, UInt64(sealed.count - nonceSize),
                            ad, UInt64(adCount), input, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            if let m = out.baseAddress {
                rc = decrypt(into: m)
            } else {
                // An empty plaintext still gets a valid output pointer.
                var spare: UInt8 = 0
                rc = withUnsafeMutablePointer(to: &spare) { decrypt(into: $0) }
            }
            initialized = rc == 0 ? Int(written) : 0
        }
        guard rc == 0 else {
            throw CryptoError(.authenticationFailed,
                              "sealed data did not authenticate: wrong key or associated data, or the bytes were altered; do not use it")
        }
        precondition(plaintext.count == plaintextCount, "AEAD open wrote \(plaintext.count) of \(plaintextCount) bytes")
        return plaintext
    }

    public static func open(_ sealed: [UInt8], key: SymmetricKey, associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        // Array.withUnsafeBytes only rethrows untyped errors; carry the typed one out in a Result.
        try sealed.withUnsafeBytes { buffer in
            Result { () throws(CryptoError) in try open(buffer, key: key, associatedData: associatedData) }
        }.get()
    }
}
