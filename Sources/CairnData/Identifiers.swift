import CairnCrypto

extension ObjectID {
    /// A fresh random id (pack ids).
    public static func random() -> ObjectID { ObjectID(SecureRandom.bytes(size)) }
}

/// Where one stored chunk lives: which pack, at which offset, how long sealed and plain.
public struct ChunkRef: Hashable, Sendable {
    public let id: ChunkID
    public let pack: PackID
    public let offset: UInt32
    public let sealedLength: UInt32
    public let plainLength: UInt32

    public init(id: ChunkID, pack: PackID, offset: UInt32, sealedLength: UInt32, plainLength: UInt32) {
        self.id = id
        self.pack = pack
        self.offset = offset
        self.sealedLength = sealedLength
        self.plainLength = plainLength
    }

    public static let encodedSize = 32 + 32 + 12

    public func encode(into w: inout ByteWriter) {
        w.raw(id.bytes)
        w.raw(pack.bytes)
        w.u32(offset)
        w.u32(sealedLength)
        w.u32(plainLength)
    }

    public init(reading r: inout ByteReader) throws(DecodeError) {
        id = try ObjectID(reading: &r)
        pack = try ObjectID(reading: &r)
        offset = try r.u32()
        sealedLength = try r.u32()
        plainLength = try r.u32()
        guard sealedLength <= Limits.sealedChunkMax, plainLength <= Limits.chunkMax else {
            throw r.fail("chunk lengths \(sealedLength)/\(plainLength) exceed the limits")
        }
    }
}
