import CairnWire
/// Signs contract terms with the node's identity. Production uses Ed25519 (CairnCrypto);
/// signing is deterministic, so it does not disturb a simulation's trace.
public protocol ContractSigner: Sendable {
    var publicKey: [UInt8] { get }
    func sign(_ message: [UInt8]) -> [UInt8]
}

/// Checks a peer's signature over contract terms.
public protocol SignatureVerifier: Sendable {
    func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool
}
