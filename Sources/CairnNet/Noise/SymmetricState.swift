import CairnCrypto

/// Noise's SymmetricState (§5.2): the chaining key `ck` (secret, from which every key
/// follows), the handshake hash `h` (public transcript), and the cipher once a DH has been
/// mixed in.
struct SymmetricState: Sendable {
    private var chainingKey: SecureBytes
    private(set) var handshakeHash: [UInt8]
    private var cipher: NoiseCipher?

    var hasKey: Bool { cipher != nil }

    /// InitializeSymmetric(protocol_name).
    init(protocolName: String) {
        let name = Array(protocolName.utf8)
        if name.count <= NoisePrimitives.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: NoisePrimitives.hashLength - name.count)
        } else {
            handshakeHash = NoisePrimitives.hash(name)
        }
        chainingKey = SecureBytes(copying: handshakeHash)
        cipher = nil
    }

    /// MixKey(input_key_material): a DH result enters the chaining key and keys the cipher.
    mutating func mixKey(_ inputKeyMaterial: SecureBytes) {
        let outputs = inputKeyMaterial.withUnsafeBytes {
            NoisePrimitives.hkdf(chainingKey: chainingKey, inputKeyMaterial: $0, outputs: 2)
        }
        chainingKey = outputs[0]
        cipher = NoiseCipher(key: NoisePrimitives.truncatedKey(outputs[1]))
    }

    /// MixHash(data).
    mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = NoisePrimitives.hash(handshakeHash, data)
    }

    /// EncryptAndHash(plaintext): plaintext itself before any key, else its ciphertext
    /// under `h` as associated data.
    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NetError) -> [UInt8] {
        let ciphertext: [UInt8]
        if var cipher {
            ciphertext = try cipher.encrypt(plaintext, ad: handshakeHash)
            self.cipher = cipher
        } else {
            ciphertext = plaintext
        }
        mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash(ciphertext); a bad tag is a failed handshake.
    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NetError) -> [UInt8] {
        let plaintext: [UInt8]
        if var cipher {
            do {
                plaintext = try cipher.decrypt(ciphertext, ad: handshakeHash)
            } catch {
                throw NetError(.handshakeFailed,
                               "a handshake message did not authenticate: it was altered, or the peer holds other keys than we expect",
                               cause: error)
            }
            self.cipher = cipher
        } else {
            plaintext = ciphertext
        }
        mixHash(ciphertext)
        return plaintext
    }

    /// HKDF(ck, ikm, 2), both outputs cut to cipher keys: Split() with an empty `ikm`, the
    /// datagram keys with their label.
    func deriveKeyPair(label: [UInt8]) -> (SecureBytes, SecureBytes) {
        let outputs = label.withUnsafeBytes { NoisePrimitives.hkdf(chainingKey: chainingKey, inputKeyMaterial: $0, outputs: 2) }
        return (NoisePrimitives.truncatedKey(outputs[0]), NoisePrimitives.truncatedKey(outputs[1]))
    }
}
