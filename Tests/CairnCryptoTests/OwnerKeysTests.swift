import Testing
import CairnCrypto

@Suite struct OwnerKeysTests {
    static let abandonArt = String(repeating: "abandon ", count: 23) + "art"

    private func keys(_ phrase: String, passphrase: String = "") throws -> OwnerKeys {
        OwnerKeys(seed: try Mnemonic(phrase: phrase).seed(passphrase: passphrase))
    }

    private func hex(_ key: SymmetricKey) -> String {
        key.withUnsafeBytes { Hex.encode($0) }
    }

    /// Known answers for the derivation documented on `OwnerKeys`, computed once and
    /// cross-checked outside libsodium (Python hashlib BLAKE2b with salt/person, PBKDF2,
    /// and an independent Ed25519). A change here is a format change: bump the version.
    @Test func knownAnswerForAbandonArt() throws {
        let owner = try keys(Self.abandonArt)
        #expect(owner.identity == "bd4b0850c9d55e877c5b160143a1ac4097ce266d74a5d749c1c89e10eab02938")
        #expect(Hex.encode(owner.signing.seedBytes) == "ff8cab5a9aac7f8a92e70d43e7b14a034ec8c313c9989841b8e44cc0e0a01c7c")
        #expect(hex(owner.dataKey) == "11bdd98b9868e5ecc4463c3d94ae908899cb0215381ff7c9908a4f4242bd6067")
        #expect(hex(owner.chunkIDKey) == "005318913db5e2c98f38d49a11f7737f7202ab63abd07ab55eeda64f19217e6d")
        #expect(hex(owner.snapshotKey) == "18474cfcfba6a97add49d9a1778b52494634caedb869506e70b760df4fe48b77")
    }

    @Test func sameSeedSameKeys() throws {
        let a = try keys(Self.abandonArt)
        let b = try keys(Self.abandonArt)
        #expect(a.identity == b.identity)
        #expect(hex(a.dataKey) == hex(b.dataKey))
        #expect(a.identity.count == 64)
    }

    @Test func differentPhrasesOrPassphrasesDiffer() throws {
        let a = try keys(Self.abandonArt)
        let b = try keys(String(repeating: "zoo ", count: 23) + "vote")
        let c = try keys(Self.abandonArt, passphrase: "extra")
        #expect(a.identity != b.identity)
        #expect(a.identity != c.identity)
        #expect(hex(a.dataKey) != hex(b.dataKey))
        #expect(b.identity == "8e737590646ac6ec19ca108d1f51584936699771a51415aa39b5e64b1c8f1025")
    }

    @Test func subkeysAreDistinct() throws {
        let owner = try keys(Self.abandonArt)
        let all = [Hex.encode(owner.signing.seedBytes), hex(owner.dataKey), hex(owner.chunkIDKey), hex(owner.snapshotKey)]
        #expect(Set(all).count == 4)
    }

    @Test func derivedKeysWork() throws {
        let owner = try keys(Self.abandonArt)
        let message = Array("snapshot 1".utf8)
        #expect(Ed25519.verify(signature: owner.signing.sign(message), message: message, publicKey: owner.signing.publicKey))
        let sealed = AEAD.seal(message, key: owner.snapshotKey)
        #expect(try AEAD.open(sealed, key: owner.snapshotKey) == message)
        let e = #expect(throws: CryptoError.self) { try AEAD.open(sealed, key: owner.dataKey) }
        #expect(e?.code == .authenticationFailed, "\(String(describing: e))")
    }
}
