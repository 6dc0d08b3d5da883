internal import CSodium

/// Every key an owner has, derived from the 64-byte BIP-39 seed of their phrase, so the
/// phrase alone restores them all on a new device.
///
/// Derivation (a disk and wire format — never change it without a version bump, or
/// existing backups become unreadable and identities change):
///
///     master      = BLAKE2b-256(message: seed, key: UTF-8 "cairn/master/v1")
///                   (libsodium crypto_generichash, 32-byte output)
///     subkey(id)  = crypto_kdf_derive_from_key(32 bytes, id, context "cairn-v1", master)
///                   (BLAKE2b with salt = id little-endian, personal = context)
///     id 1 → Ed25519 seed → crypto_sign_seed_keypair → `signing`
///     id 2 → `dataKey`      (encrypts packs)
///     id 3 → `chunkIDKey`   (keys chunk-id hashing, so peers cannot test guesses about content)
///     id 4 → `snapshotKey`  (encrypts snapshots)
///     id 5 → `treeIDKey`    (keys tree-chunk ids; trees of version 2 and older used id 4)
///
/// Ids 6 and up are free for new subkeys; reusing or renumbering an id is a format change.
public struct OwnerKeys: Sendable {
    /// The owner's identity key; its public key names the owner on the network.
    public let signing: SigningKey
    public let dataKey: SymmetricKey
    public let chunkIDKey: SymmetricKey
    public let snapshotKey: SymmetricKey
    /// Keys the ids of a snapshot tree's chunks: a key of its own, so the snapshot key
    /// is only ever an AEAD key.
    public let treeIDKey: SymmetricKey

    private static let masterDomain = Array("cairn/master/v1".utf8)
    private static let kdfContext = "cairn-v1"
    private static let seedSize = 64

    private enum SubkeyID: UInt64 {
        case signing = 1, data = 2, chunkID = 3, snapshot = 4, treeID = 5
    }

    /// Derives the owner's keys from a BIP-39 seed (`Mnemonic.seed()`), which must be 64 bytes.
    public init(seed: SecureBytes) {
        precondition(seed.count == Self.seedSize, "OwnerKeys from a \(seed.count)-byte seed; a BIP-39 seed is 64 bytes")
        precondition(Self.kdfContext.utf8.count == Int(crypto_kdf_contextbytes()), "KDF context must be 8 bytes")
        _ = Sodium.ready

        let master = SecureBytes(count: Int(crypto_kdf_keybytes()))
        let rc = seed.withUnsafeBytes { s in
            master.withUnsafeMutableBytes { m in
                withNonNullBytes(Self.masterDomain) { key, keyCount in
                    crypto_generichash(m.baseAddress!.assumingMemoryBound(to: UInt8.self), m.count,
                                       s.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(s.count),
                                       key, keyCount)
                }
            }
        }
        precondition(rc == 0, "crypto_generichash (master key) rc=\(rc)")

        signing = SigningKey(secureSeed: Self.subkey(.signing, master: master))
        dataKey = SymmetricKey(secure: Self.subkey(.data, master: master))
        chunkIDKey = SymmetricKey(secure: Self.subkey(.chunkID, master: master))
        snapshotKey = SymmetricKey(secure: Self.subkey(.snapshot, master: master))
        treeIDKey = SymmetricKey(secure: Self.subkey(.treeID, master: master))
    }

    /// The owner's public identity: lower-case hex of the Ed25519 public key.
    public var identity: String { Hex.encode(signing.publicKey) }

    private static func subkey(_ id: SubkeyID, master: SecureBytes) -> SecureBytes {
        let subkey = SecureBytes(count: SymmetricKey.byteCount)
        let rc = master.withUnsafeBytes { m in
            subkey.withUnsafeMutableBytes { out in
                crypto_kdf_derive_from_key(out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                                           id.rawValue, kdfContext,
                                           m.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_kdf_derive_from_key id=\(id.rawValue) rc=\(rc)")
        return subkey
    }
}
