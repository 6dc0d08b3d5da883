import CairnWire
internal import CairnCrypto

/// Contract signatures with the node's Ed25519 key (CairnCrypto). Deterministic: the same
/// key and terms give the same signature, so simulations that sign stay replayable.
public struct Ed25519Signer: ContractSigner {
    private let key: SigningKey

    /// The key from a 32-byte seed (the node key file, or a simulation's per-node seed).
    public init(seed: [UInt8]) throws {
        key = try SigningKey(seed: seed)
    }

    public var publicKey: [UInt8] { key.publicKey }

    public func sign(_ message: [UInt8]) -> [UInt8] { key.sign(message) }
}

/// Checks Ed25519 signatures by peers and owners.
public struct Ed25519Verifier: SignatureVerifier {
    public init() {}

    public func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        Ed25519.verify(signature: signature, message: message, publicKey: publicKey)
    }
}
