import CairnCore
import CairnCrypto

/// The coordinator's signature on "owner key K has node number N". A node keeps it; a
/// coordinator that lost its directory (but not its key) believes it again, so the owner
/// gets back the number its contracts and volumes name, and nobody else can take it.
enum Membership {
    static func message(node: NodeID, owner: [UInt8]) -> [UInt8] {
        var m = Array("cairn membership v1".utf8)
        withUnsafeBytes(of: node.raw.bigEndian) { m.append(contentsOf: $0) }
        return m + owner
    }

    static func sign(node: NodeID, owner: [UInt8], with key: SigningKey) -> [UInt8] {
        key.sign(message(node: node, owner: owner))
    }

    static func verify(_ signature: [UInt8], node: NodeID, owner: [UInt8], coordinatorKey: [UInt8]) -> Bool {
        Ed25519.verify(signature: signature, message: message(node: node, owner: owner), publicKey: coordinatorKey)
    }
}
