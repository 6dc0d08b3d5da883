import CairnCrypto

/// Compresses and encrypts one chunk, and back.
///
/// A sealed chunk is `flag u8 || nonce || ciphertext || tag`, where flag 1 means the
/// plaintext was zstd-compressed and 0 that it is stored as is (incompressible data is
/// never inflated). The associated data is `chunk id || flag`, so a holder can neither
/// swap two chunks nor flip the flag. Keeping the flag outside the ciphertext lets a
/// stored chunk decrypt straight into its final buffer.
public enum ChunkSealer {
    public static let compressionLevel: Int32 = 1
    public static let overhead = 1 + AEAD.overhead

    public static func seal(_ plain: UnsafeRawBufferPointer, id: ChunkID, key: SymmetricKey) -> [UInt8] {
        let compressed = Zstd.compress(plain, level: compressionLevel)
        if compressed.count < plain.count {
            return compressed.withUnsafeBytes {
                AEAD.seal($0, key: key, associatedData: id.bytes + [1], prefix: [1])
            }
        }
        return AEAD.seal(plain, key: key, associatedData: id.bytes + [0], prefix: [0])
    }

    public static func open(_ sealed: UnsafeRawBufferPointer, id: ChunkID, key: SymmetricKey, plainLength: Int) throws(DataError) -> [UInt8] {
        guard sealed.count >= overhead else {
            throw DataError(.corrupt, "chunk \(id) is \(sealed.count) bytes, too short to be sealed")
        }
        let flag = sealed[0]
        guard flag <= 1 else { throw DataError(.corrupt, "chunk \(id) has unknown flag \(flag)") }
        let body: [UInt8]
        do {
            body = try AEAD.open(UnsafeRawBufferPointer(rebasing: sealed[1...]), key: key, associatedData: id.bytes + [flag])
        } catch {
            throw DataError(.corrupt, "chunk \(id) does not authenticate", cause: error)
        }
        let plain: [UInt8]
        if flag == 0 {
            plain = body
        } else {
            do {
                plain = try Zstd.decompress(body, maxSize: plainLength)
            } catch {
                throw DataError(.corrupt, "chunk \(id) does not decompress", cause: error)
            }
        }
        guard plain.count == plainLength else {
            throw DataError(.corrupt, "chunk \(id) holds \(plain.count) bytes, expected \(plainLength)")
        }
        return plain
    }
}
