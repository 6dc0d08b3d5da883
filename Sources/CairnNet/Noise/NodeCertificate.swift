import CairnCrypto
import CairnWire

/// The owner's statement that a node key is theirs: every node has its own Ed25519 key,
/// so a lost or retired machine can be disowned without touching the owner identity.
///
/// Layout (141 bytes): `"CRNC" | version u8 = 1 | owner public key (32) | node public key
/// (32) | issued i64 (UTC ms, big-endian) | Ed25519 signature by the owner (64)` over
/// every byte before the signature.
public struct NodeCertificate: Sendable, Hashable {
    public static let magic = Array("CRNC".utf8)
    public static let version: UInt8 = 1
    /// Bytes before the signature: what the owner signs.
    static let signedLength = 4 + 1 + 32 + 32 + 8
    public static let encodedLength = signedLength + SigningKey.signatureSize

    /// Names the owner (the identity key of their 24-word phrase).
    public let ownerPublicKey: [UInt8]
    /// The node's Ed25519 key; its X25519 form is the node's Noise static key.
    public let nodePublicKey: [UInt8]
    /// When the owner issued it, UTC milliseconds since 1970.
    public let issuedMilliseconds: Int64
    public let signature: [UInt8]

    /// A certificate as it stands, unchecked (`verify()` checks it); lengths must be right.
    public init(ownerPublicKey: [UInt8], nodePublicKey: [UInt8], issuedMilliseconds: Int64,
                signature: [UInt8]) throws(NetError) {
        guard ownerPublicKey.count == SigningKey.publicKeySize, nodePublicKey.count == SigningKey.publicKeySize,
              signature.count == SigningKey.signatureSize
        else {
            throw NetError(.malformed, "a node certificate holds two 32-byte keys and a 64-byte signature, got \(ownerPublicKey.count), \(nodePublicKey.count) and \(signature.count) bytes")
        }
        self.ownerPublicKey = ownerPublicKey
        self.nodePublicKey = nodePublicKey
        self.issuedMilliseconds = issuedMilliseconds
        self.signature = signature
    }

    /// The owner certifies `nodePublicKey`, at `issuedMilliseconds`.
    public static func issue(owner: SigningKey, nodePublicKey: [UInt8], issuedMilliseconds: Int64) throws(NetError) -> NodeCertificate {
        guard nodePublicKey.count == SigningKey.publicKeySize else {
            throw NetError(.malformed, "a node key is \(SigningKey.publicKeySize) bytes, got \(nodePublicKey.count)")
        }
        let body = signedBytes(owner: owner.publicKey, node: nodePublicKey, issued: issuedMilliseconds)
        return try NodeCertificate(ownerPublicKey: owner.publicKey, nodePublicKey: nodePublicKey,
                                   issuedMilliseconds: issuedMilliseconds, signature: owner.sign(body))
    }

    /// Decodes the 141-byte form, bounds-checked; does not check the signature (`verify()` does).
    public init(decoding bytes: [UInt8]) throws(NetError) {
        let fields: (owner: [UInt8], node: [UInt8], issued: Int64, signature: [UInt8])
        do {
            fields = try Self.decodeFields(bytes)
        } catch {
            throw NetError(.malformed, "the node certificate does not decode; the peer is broken or hostile", cause: error)
        }
        try self.init(ownerPublicKey: fields.owner, nodePublicKey: fields.node, issuedMilliseconds: fields.issued,
                      signature: fields.signature)
    }

    private static func decodeFields(_ bytes: [UInt8]) throws(DecodeError) -> (owner: [UInt8], node: [UInt8], issued: Int64, signature: [UInt8]) {
        var reader = ByteReader(bytes, what: "node certificate")
        guard try reader.raw(magic.count) == magic else { throw reader.fail("not a node certificate (magic)", at: 0) }
        let version = try reader.u8()
        guard version == Self.version else {
            throw reader.fail("version \(version); this Cairn reads version \(Self.version)", code: .badVersion, at: 4)
        }
        let owner = try reader.raw(SigningKey.publicKeySize)
        let node = try reader.raw(SigningKey.publicKeySize)
        let issued = try reader.i64()
        let signature = try reader.raw(SigningKey.signatureSize)
        try reader.expectEnd()
        return (owner, node, issued, signature)
    }

    /// The 141-byte form.
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: Self.encodedLength)
        writer.raw(Self.signedBytes(owner: ownerPublicKey, node: nodePublicKey, issued: issuedMilliseconds))
        writer.raw(signature)
        return writer.bytes
    }

    /// Whether the named owner signed exactly these bytes.
    public var isSignatureValid: Bool {
        Ed25519.verify(signature: signature,
                       message: Self.signedBytes(owner: ownerPublicKey, node: nodePublicKey, issued: issuedMilliseconds),
                       publicKey: ownerPublicKey)
    }

    /// Throws `.handshakeFailed` unless the owner it names signed it.
    public func verify() throws(NetError) {
        guard isSignatureValid else {
            throw NetError(.handshakeFailed, "the node certificate for \(Hex.encode(nodePublicKey)) is not signed by the owner it names (\(Hex.encode(ownerPublicKey))); it is forged or damaged, drop the peer")
        }
    }

    private static func signedBytes(owner: [UInt8], node: [UInt8], issued: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: signedLength)
        writer.raw(magic)
        writer.u8(version)
        writer.raw(owner)
        writer.raw(node)
        writer.i64(issued)
        precondition(writer.count == signedLength, "certificate body of \(writer.count) bytes")
        return writer.bytes
    }
}
