import CairnWire
internal import CairnCrypto

/// A stand-in signer for tests and simulations before Ed25519 is available: the "signature"
/// is BLAKE2b-512 of the message keyed with the public key, which anyone can forge. It keeps
/// the shape (public key, 64-byte signature, verify) so the contract code is exercised;
/// production uses `Ed25519Signer`.
public struct DigestSigner: ContractSigner, SignatureVerifier {
    public let publicKey: [UInt8]

    public init(seed: [UInt8]) {
        publicKey = Blake2b.hash(seed, outputLength: 32, key: Array("cairn-digest-signer".utf8))
    }

    public init() { publicKey = [] }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        Blake2b.hash(message, outputLength: 64, key: publicKey)
    }

    public func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        publicKey.count == 32 && signature == Blake2b.hash(message, outputLength: 64, key: publicKey)
    }
}
