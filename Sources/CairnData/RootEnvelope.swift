import CairnCrypto

/// The root record as stored on targets: sealed with the snapshot key (holders learn
/// nothing) and signed by the owner identity (nobody can substitute an older or forged
/// one without the phrase).
///
/// Layout: `"CRNR" | version u8 | owner public key (32) | sealed payload (u32 length +
/// bytes) | Ed25519 signature (64) over everything before it`.
public enum RootEnvelope {
    static let magic: [UInt8] = Array("CRNR".utf8)
    static let version: UInt8 = 1
    static let associatedData: [UInt8] = Array("cairn root record v1".utf8)

    public static func seal(_ record: RootRecord, keys: OwnerKeys) -> [UInt8] {
        let sealed = AEAD.seal(record.encode(), key: keys.snapshotKey, associatedData: associatedData)
        var w = ByteWriter(capacity: sealed.count + 128)
        w.raw(magic)
        w.u8(version)
        w.raw(keys.signing.publicKey)
        w.blob(sealed)
        let signature = keys.signing.sign(w.bytes)
        w.raw(signature)
        return w.bytes
    }

    /// Checks the signature against this owner's key, then decrypts and decodes.
    public static func open(_ bytes: [UInt8], keys: OwnerKeys) throws(DataError) -> RootRecord {
        do {
            var r = ByteReader(bytes, what: "root envelope")
            guard try r.raw(4) == magic else { throw r.fail("bad magic") }
            let v = try r.u8()
            guard v == version else { throw r.fail("envelope version \(v) is not supported") }
            let owner = try r.raw(32)
            guard owner == keys.signing.publicKey else {
                throw DataError(.wrongOwner, "this backup belongs to identity \(Hex.encode(owner)), not to \(keys.identity): check that you typed the right phrase")
            }
            let sealed = try r.blob(max: Limits.rootRecordMax)
            let signedLength = r.offset
            let signature = try r.raw(64)
            try r.expectEnd()
            guard Ed25519.verify(signature: signature, message: Array(bytes[..<signedLength]), publicKey: owner) else {
                throw DataError(.corrupt, "the root record's signature does not verify: the copy is damaged or forged")
            }
            let plain: [UInt8]
            do {
                plain = try AEAD.open(sealed, key: keys.snapshotKey, associatedData: associatedData)
            } catch {
                throw DataError(.corrupt, "the root record does not decrypt with this phrase's keys", cause: error)
            }
            return try RootRecord.decode(plain)
        } catch let e as DecodeError {
            throw DataError(.corrupt, "the root record is damaged", cause: e)
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(.corrupt, "the root record could not be read", cause: error)
        }
    }
}
