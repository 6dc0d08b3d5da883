import CairnCrypto

/// Compresses and encrypts one chunk, and back. A sealed chunk is
/// `AEAD(flag u8 || body)` with the chunk id as associated data, so a holder cannot swap
/// two chunks; flag 1 = zstd body, 0 = stored (incompressible data is not inflated).
public enum ChunkSealer {
    public static let compressionLevel: Int32 = 1

    public static func seal(_ plain: UnsafeRawBufferPointer, id: ChunkID, key: SymmetricKey) -> [UInt8] {
        let compressed = Zstd.compress(plain, level: compressionLevel)
        var body: [UInt8]
        if compressed.count < plain.count {
            body = [UInt8](repeating: 1, count: 1)
            body.reserveCapacity(1 + compressed.count)
            body.append(contentsOf: compressed)
        } else {
            body = [UInt8](repeating: 0, count: 1)
            body.reserveCapacity(1 + plain.count)
            body.append(contentsOf: plain)
        }
        return AEAD.seal(body, key: key, associatedData: id.bytes)
    }

    public static func open(_ sealed: UnsafeRawBufferPointer, id: ChunkID, key: SymmetricKey, plainLength: Int) throws(DataError) -> [UInt8] {
        let body: [UInt8]
        do {
            body = try AEAD.open(sealed, key: key, associatedData: id.bytes)
        } catch {
            throw DataError(.corrupt, "chunk \(id) does not authenticate", cause: error)
        }
        guard let flag = body.first else { throw DataError(.corrupt, "chunk \(id) is empty") }
        let plain: [UInt8]
        switch flag {
        case 0:
            plain = Array(body[1...])
        case 1:
            do {
                plain = try body.withUnsafeBytes { b in
                    try Zstd.decompress(UnsafeRawBufferPointer(rebasing: b[1...]), maxSize: plainLength)
                }
            } catch {
                throw DataError(.corrupt, "chunk \(id) does not decompress", cause: error)
            }
        default:
            throw DataError(.corrupt, "chunk \(id) has unknown flag \(flag)")
        }
        guard plain.count == plainLength else {
            throw DataError(.corrupt, "chunk \(id) holds \(plain.count) bytes, expected \(plainLength)")
        }
        return plain
    }
}
