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

    /// Whether `bytes` start as a root envelope does (its magic), to tell it from a shard
    /// (`ShardHeader`'s `CRNS`) where either may come; `open` still checks everything.
    public static func isEnvelope(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

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
            let parts = try Parts(bytes)
            guard parts.owner == keys.signing.publicKey else {
                throw DataError(.wrongOwner, "this backup belongs to identity \(Hex.encode(parts.owner)), not to \(keys.identity): check that you typed the right phrase")
            }
            guard Ed25519.verify(signature: parts.signature, message: Array(bytes[..<parts.signedLength]), publicKey: parts.owner) else {
                throw DataError(.corrupt, "the root record's signature does not verify: the copy is damaged or forged")
            }
            return try RootRecord.decode(try decrypt(parts.sealed, keys: keys))
        } catch let e as DecodeError {
            throw DataError(.corrupt, "the root record is damaged", cause: e)
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(.corrupt, "the root record could not be read", cause: error)
        }
    }

    /// The record inside a copy whose owner key is not this owner's, when its payload still
    /// decrypts with this owner's snapshot key. The AEAD tag proves that only this owner
    /// sealed it, so the key bytes on the drive were damaged: the copy is damage to repair
    /// from the other targets, not another owner's drive. Its signature cannot be checked
    /// (the key it would be checked with is the damaged one), so the record is evidence of
    /// whose copy it is, never a root record to use. Nil when it does not open: then it may
    /// really be another owner's.
    public static func recordDespiteOwnerKey(_ bytes: [UInt8], keys: OwnerKeys) -> RootRecord? {
        guard let parts = try? Parts(bytes), let plain = try? decrypt(parts.sealed, keys: keys) else { return nil }
        return try? RootRecord.decode(plain)
    }

    /// The envelope's fields, read whole (nothing may follow the signature).
    private struct Parts {
        let owner: [UInt8]
        let sealed: [UInt8]
        let signedLength: Int
        let signature: [UInt8]

        init(_ bytes: [UInt8]) throws(DecodeError) {
            var r = ByteReader(bytes, what: "root envelope")
            guard try r.raw(4) == magic else { throw r.fail("bad magic") }
            let v = try r.u8()
            guard v == version else { throw r.fail("envelope version \(v) is not supported") }
            owner = try r.raw(32)
            sealed = try r.blob(max: Limits.rootRecordMax)
            signedLength = r.offset
            signature = try r.raw(64)
            try r.expectEnd()
        }
    }

    private static func decrypt(_ sealed: [UInt8], keys: OwnerKeys) throws(DataError) -> [UInt8] {
        do {
            return try AEAD.open(sealed, key: keys.snapshotKey, associatedData: associatedData)
        } catch {
            throw DataError(.corrupt, "the root record does not decrypt with this phrase's keys", cause: error)
        }
    }
}
