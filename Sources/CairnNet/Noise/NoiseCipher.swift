import CairnCrypto

/// A Noise CipherState with a key (§5.1): one direction of an established session. Each
/// message is ChaCha20-Poly1305 under the next counter nonce, so a replayed, reordered or
/// dropped message fails the next `decrypt` (TCP's replay protection). The counter never
/// wraps: at 2^64-1 the session must be replaced.
public struct NoiseCipher: Sendable {
    /// Bytes a ciphertext adds to its plaintext (the Poly1305 tag).
    public static let tagLength = NoisePrimitives.tagLength
    /// The largest ciphertext a Noise message may carry.
    public static let ciphertextLengthMax = NoisePrimitives.messageLengthMax
    /// The largest plaintext one `encrypt` accepts.
    public static let plaintextLengthMax = NoisePrimitives.messageLengthMax - NoisePrimitives.tagLength
    /// 2^64-1, reserved by the spec for `rekey`; no message uses it.
    static let maxNonce = UInt64.max

    private var key: SecureBytes
    /// The counter the next message will use (messages so far in this direction).
    public private(set) var nonce: UInt64

    /// Takes a 32-byte key already in secure memory.
    init(key: SecureBytes, nonce: UInt64 = 0) {
        precondition(key.count == NoisePrimitives.keyLength, "Noise cipher key of \(key.count) bytes")
        self.key = key
        self.nonce = nonce
    }

    /// ENCRYPT(k, n++, ad, plaintext).
    public mutating func encrypt(_ plaintext: [UInt8], ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        try plaintext.withUnsafeBytes { p in Result { () throws(NetError) in try encrypt(p, ad: ad) } }.get()
    }

    /// `encrypt` from borrowed bytes (a NIO buffer's readable bytes), without a copy.
    public mutating func encrypt(_ plaintext: UnsafeRawBufferPointer, ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        guard plaintext.count <= Self.plaintextLengthMax else {
            throw NetError(.oversized, "a Noise message carries at most \(Self.plaintextLengthMax) bytes of plaintext, not \(plaintext.count); split it")
        }
        try checkNonceLeft()
        let ciphertext = ad.withUnsafeBytes { a in NoisePrimitives.seal(key: key, nonce: nonce, ad: a, plaintext: plaintext) }
        nonce += 1
        return ciphertext
    }

    /// DECRYPT(k, n++, ad, ciphertext). A failure leaves the counter where it was.
    public mutating func decrypt(_ ciphertext: [UInt8], ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        try ciphertext.withUnsafeBytes { c in Result { () throws(NetError) in try decrypt(c, ad: ad) } }.get()
    }

    /// `decrypt` from borrowed bytes (a NIO buffer's readable bytes), without a copy.
    public mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer, ad: [UInt8] = []) throws(NetError) -> [UInt8] {
        guard ciphertext.count <= Self.ciphertextLengthMax else {
            throw NetError(.oversized, "a Noise message is at most \(Self.ciphertextLengthMax) bytes, this one is \(ciphertext.count); the peer is broken or hostile")
        }
        guard ciphertext.count >= Self.tagLength else {
            throw NetError(.malformed, "a Noise transport message is at least its \(Self.tagLength)-byte tag, this one is \(ciphertext.count) bytes; it was cut short")
        }
        try checkNonceLeft()
        let n = nonce
        let plaintext = ad.withUnsafeBytes { a in NoisePrimitives.open(key: key, nonce: n, ad: a, ciphertext: ciphertext) }
        guard let plaintext else {
            throw NetError(.badCiphertext,
                           "message \(n) did not authenticate: it was altered, replayed, reordered or sent under another key; drop the session")
        }
        nonce += 1
        return plaintext
    }

    private func checkNonceLeft() throws(NetError) {
        guard nonce < Self.maxNonce else {
            throw NetError(.overloaded, "this session has used all 2^64-1 nonces; open a new session")
        }
    }

    /// REKEY (§11.3): the key becomes the first 32 bytes of ENCRYPT(k, 2^64-1, "", 32
    /// zeros); the counter goes on. Both sides rekey after the same message to stay in step.
    public mutating func rekey() {
        key = NoisePrimitives.rekey(key)
    }
}
