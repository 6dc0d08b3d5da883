import CairnCrypto

/// What a node shows in a session: its owner-signed certificate, and the static key (its
/// node key in X25519 form) that proves it holds the certified key.
public struct SessionIdentity: Sendable {
    public let certificate: NodeCertificate
    let staticKey: X25519KeyPair

    /// The identity of the node holding `nodeKey`; refuses a certificate for another key
    /// or one its owner did not sign (`.handshakeFailed`), which no peer would accept.
    public init(nodeKey: SigningKey, certificate: NodeCertificate) throws(NetError) {
        guard certificate.nodePublicKey == nodeKey.publicKey else {
            throw NetError(.handshakeFailed, "the node certificate is for node key \(Hex.encode(certificate.nodePublicKey)), not this node's \(Hex.encode(nodeKey.publicKey)); have the owner issue one for this node")
        }
        try certificate.verify()
        self.init(certificate: certificate, staticKey: try X25519KeyPair(nodeKey: nodeKey))
    }

    /// Unchecked: tests build identities peers must refuse.
    init(certificate: NodeCertificate, staticKey: X25519KeyPair) {
        self.certificate = certificate
        self.staticKey = staticKey
    }

    /// The node's Ed25519 key, as peers and the coordinator know it.
    public var nodePublicKey: [UInt8] { certificate.nodePublicKey }
}
