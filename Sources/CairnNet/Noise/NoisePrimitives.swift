internal import CSodium
import CairnCrypto

/// The three functions of `25519_ChaChaPoly_BLAKE2b` (Noise revision 34, §12): X25519,
/// ChaCha20-Poly1305 IETF with Noise's nonce layout, BLAKE2b-512 with HMAC and HKDF built
/// on it. Pure functions over libsodium; every secret they produce lands in `SecureBytes`.
enum NoisePrimitives {
    /// DHLEN: bytes of an X25519 public key and of a DH result.
    static let dhLength = 32
    /// HASHLEN of BLAKE2b.
    static let hashLength = 64
    /// BLOCKLEN of BLAKE2b, the HMAC pad width.
    static let blockLength = 128
    /// Bytes of a ChaCha20-Poly1305 key (the first 32 bytes of an HKDF output).
    static let keyLength = 32
    /// Bytes of a Poly1305 tag.
    static let tagLength = 16
    /// The largest Noise message (§3): every handshake and transport message fits in it.
    static let messageLengthMax = 65535

    /// libsodium must be initialised before the first call; `sodium_init` is idempotent.
    static let ready: Void = {
        let rc = sodium_init()
        precondition(rc >= 0, "sodium_init failed (rc=\(rc)): the OS entropy source is unavailable")
    }()

    // MARK: DH

    /// The X25519 public key of `secret` (32 bytes; clamped by libsodium). Nil only if
    /// libsodium refuses, which a clamped scalar never causes.
    static func publicKey(of secret: SecureBytes) -> [UInt8]? {
        _ = ready
        precondition(secret.count == dhLength, "X25519 secret of \(secret.count) bytes")
        var out = [UInt8](repeating: 0, count: dhLength)
        let rc = secret.withUnsafeBytes { s in
            out.withUnsafeMutableBufferPointer { o in
                crypto_scalarmult_curve25519_base(o.baseAddress!, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? out : nil
    }

    /// DH(secret, publicKey), or nil when the result is all zeros: `publicKey` is a
    /// low-order point, which would let a peer force a known shared secret.
    static func dh(secret: SecureBytes, publicKey: [UInt8]) -> SecureBytes? {
        _ = ready
        precondition(secret.count == dhLength && publicKey.count == dhLength,
                     "X25519 with a \(secret.count)-byte secret and a \(publicKey.count)-byte public key")
        let shared = SecureBytes(count: dhLength)
        let rc = secret.withUnsafeBytes { s in
            publicKey.withUnsafeBufferPointer { p in
                shared.withUnsafeMutableBytes { q in
                    crypto_scalarmult_curve25519(q.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                 s.baseAddress!.assumingMemoryBound(to: UInt8.self), p.baseAddress!)
                }
            }
        }
        return rc == 0 ? shared : nil
    }

    // MARK: ChaCha20-Poly1305

    /// Noise's 96-bit nonce: 32 zero bits, then the counter little-endian.
    static func withNonce<R>(_ n: UInt64, _ body: (UnsafePointer<UInt8>) -> R) -> R {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[4 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        return nonce.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// `prefix || ENCRYPT(k, n, ad, plaintext)` in one allocation: the ciphertext is
    /// `plaintext.count + 16` bytes.
    static func seal(key: SecureBytes, nonce n: UInt64, ad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                     prefix: [UInt8] = []) -> [UInt8] {
        _ = ready
        precondition(key.count == keyLength, "ChaCha20-Poly1305 key of \(key.count) bytes")
        let total = prefix.count + plaintext.count + tagLength
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            for (i, b) in prefix.enumerated() { out[i] = b }
            var written: UInt64 = 0
            let rc = withNonce(n) { npub in
                nonNull(plaintext) { m, mCount in
                    nonNull(ad) { a, aCount in
                        key.withUnsafeBytes { k in
                            crypto_aead_chacha20poly1305_ietf_encrypt(
                                out.baseAddress! + prefix.count, &written, m, UInt64(mCount), a, UInt64(aCount),
                                nil, npub, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                        }
                    }
                }
            }
            precondition(rc == 0 && written == UInt64(plaintext.count + tagLength),
                         "crypto_aead_chacha20poly1305_ietf_encrypt rc=\(rc) wrote \(written) for \(plaintext.count)")
            initialized = total
        }
    }

    /// REKEY(k) of §11.3: the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, 32 zeros),
    /// computed in secure memory.
    static func rekey(_ key: SecureBytes) -> SecureBytes {
        _ = ready
        precondition(key.count == keyLength, "ChaCha20-Poly1305 key of \(key.count) bytes")
        let block = SecureBytes(count: keyLength + tagLength)
        let zeros = SecureBytes(count: keyLength)
        let rc = withNonce(UInt64.max) { npub in
            block.withUnsafeMutableBytes { out in
                zeros.withUnsafeBytes { m in
                    key.withUnsafeBytes { k in
                        crypto_aead_chacha20poly1305_ietf_encrypt(
                            out.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                            m.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(keyLength), nil, 0,
                            nil, npub, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        precondition(rc == 0, "crypto_aead_chacha20poly1305_ietf_encrypt rc=\(rc)")
        return truncatedKey(block)
    }

    /// DECRYPT(k, n, ad, ciphertext), or nil when the tag does not verify. The caller has
    /// checked that `ciphertext` holds at least a tag.
    static func open(key: SecureBytes, nonce n: UInt64, ad: UnsafeRawBufferPointer,
                     ciphertext: UnsafeRawBufferPointer) -> [UInt8]? {
        _ = ready
        precondition(key.count == keyLength, "ChaCha20-Poly1305 key of \(key.count) bytes")
        precondition(ciphertext.count >= tagLength, "ciphertext of \(ciphertext.count) bytes has no tag")
        let plaintextCount = ciphertext.count - tagLength
        var rc: Int32 = -1
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(plaintextCount, 1)) { out, initialized in
            var written: UInt64 = 0
            rc = withNonce(n) { npub in
                nonNull(ad) { a, aCount in
                    key.withUnsafeBytes { k in
                        crypto_aead_chacha20poly1305_ietf_decrypt(
                            out.baseAddress!, &written, nil,
                            ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                            a, UInt64(aCount), npub, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            initialized = rc == 0 ? Int(written) : 0
        }
        guard rc == 0 else { return nil }
        precondition(plaintext.count == plaintextCount, "ChaCha20-Poly1305 opened \(plaintext.count) of \(plaintextCount) bytes")
        return plaintext
    }

    // MARK: BLAKE2b, HMAC, HKDF

    /// HASH(data): BLAKE2b with a 64-byte output.
    static func hash(_ parts: [UInt8]...) -> [UInt8] {
        var state = HashState()
        for part in parts { part.withUnsafeBytes { state.update($0) } }
        var out = [UInt8](repeating: 0, count: hashLength)
        out.withUnsafeMutableBytes { state.finalize(into: $0) }
        return out
    }

    /// HMAC-HASH(key, data || suffix) per RFC 2104 with BLOCKLEN 128 (§4.3), written into
    /// `out` (64 bytes). `suffix` is the one-byte HKDF counter.
    static func hmac(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, suffix: UInt8?,
                     into out: UnsafeMutableRawBufferPointer) {
        precondition(key.count <= blockLength && out.count == hashLength, "HMAC key \(key.count), output \(out.count)")
        let pad = SecureBytes(count: blockLength)
        let innerDigest = SecureBytes(count: hashLength)
        pad.withUnsafeMutableBytes { p in
            for i in 0..<blockLength { p[i] = (i < key.count ? key[i] : 0) ^ 0x36 }
            var inner = HashState()
            inner.update(UnsafeRawBufferPointer(p))
            inner.update(data)
            if var byte = suffix { withUnsafeBytes(of: &byte) { inner.update($0) } }
            innerDigest.withUnsafeMutableBytes { inner.finalize(into: $0) }
            for i in 0..<blockLength { p[i] = (i < key.count ? key[i] : 0) ^ 0x5c }
            var outer = HashState()
            outer.update(UnsafeRawBufferPointer(p))
            innerDigest.withUnsafeBytes { outer.update($0) }
            outer.finalize(into: out)
        }
    }

    /// HKDF(chaining_key, input_key_material, num_outputs) of §4.3: two or three 64-byte
    /// outputs, each in its own zeroing buffer.
    static func hkdf(chainingKey: SecureBytes, inputKeyMaterial: UnsafeRawBufferPointer, outputs: Int) -> [SecureBytes] {
        precondition(outputs == 2 || outputs == 3, "HKDF with \(outputs) outputs")
        let tempKey = SecureBytes(count: hashLength)
        chainingKey.withUnsafeBytes { ck in
            tempKey.withUnsafeMutableBytes { hmac(key: ck, data: inputKeyMaterial, suffix: nil, into: $0) }
        }
        var result: [SecureBytes] = []
        tempKey.withUnsafeBytes { tk in
            for i in 1...outputs {
                let output = SecureBytes(count: hashLength)
                output.withUnsafeMutableBytes { o in
                    if let previous = result.last {
                        previous.withUnsafeBytes { hmac(key: tk, data: $0, suffix: UInt8(i), into: o) }
                    } else {
                        hmac(key: tk, data: UnsafeRawBufferPointer(start: nil, count: 0), suffix: UInt8(i), into: o)
                    }
                }
                result.append(output)
            }
        }
        return result
    }

    /// The first 32 bytes of a 64-byte HKDF output, as a cipher key (§5.2 MixKey, Split).
    static func truncatedKey(_ output: SecureBytes) -> SecureBytes {
        let key = SecureBytes(count: keyLength)
        output.withUnsafeBytes { o in key.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o.prefix(keyLength))) } }
        return key
    }
}

/// libsodium's BLAKE2b state, 64-byte aligned (Swift cannot import it as a value), in its
/// own allocation that is wiped and freed when the hash is done: HMAC states hold key
/// material.
private struct HashState: ~Copyable {
    private let state: UnsafeMutableRawPointer
    private let size: Int

    init() {
        _ = NoisePrimitives.ready
        size = crypto_generichash_blake2b_statebytes()
        state = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        let rc = crypto_generichash_blake2b_init(OpaquePointer(state), nil, 0, NoisePrimitives.hashLength)
        precondition(rc == 0, "crypto_generichash_blake2b_init rc=\(rc)")
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let rc = crypto_generichash_blake2b_update(OpaquePointer(state), base.assumingMemoryBound(to: UInt8.self),
                                                   UInt64(bytes.count))
        precondition(rc == 0, "crypto_generichash_blake2b_update rc=\(rc)")
    }

    /// Writes the 64-byte digest into `out`.
    mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == NoisePrimitives.hashLength, "BLAKE2b output of \(out.count) bytes")
        let rc = crypto_generichash_blake2b_final(OpaquePointer(state), out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                  NoisePrimitives.hashLength)
        precondition(rc == 0, "crypto_generichash_blake2b_final rc=\(rc)")
    }

    deinit {
        sodium_memzero(state, size)
        state.deallocate()
    }
}

/// libsodium wants non-null pointers even for empty inputs, and Swift gives an empty
/// buffer a nil base address: this hands `body` a valid pointer in every case.
func nonNull<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if let base = bytes.baseAddress, bytes.count > 0 {
        return body(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
    let empty: UInt8 = 0
    return withUnsafePointer(to: empty) { body($0, 0) }
}
