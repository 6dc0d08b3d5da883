import CairnWire
/// The coordinator's signed permission for one blind repair placement: `repairer` may place
/// slot `slot` of `owner`'s volume on `holder`, signing the contract with its own key
/// (`repairerKey`) in the owner's name, until `expires`.
///
/// Why it exists: while an owner is away, a holder of its volume rebuilds missing shards and
/// proposes contracts on its behalf. Without a mandate a holder receiving such a proposal
/// cannot tell an ordered repair from a peer that lies — any node could fill others' disks
/// in an owner's name, or replace the owner's holders with accomplices. The coordinator
/// (which ordered the repair) signs exactly what it ordered; the holder checks the
/// signature against the coordinator key it was configured with, and the coordinator
/// accepts a `blindRepairDone` only for a placement it ordered.
///
/// On the wire only `expires` and `signature` travel: every other field is known to the
/// receiver from the contract terms, the authenticated sender and itself, so a mandate
/// cannot be replayed for another volume, slot, owner, holder or repairer.
public struct BlindRepairMandate: Hashable, Sendable, Codable {
    public var expires: Instant
    /// The coordinator's signature over `signingBytes`.
    public var signature: [UInt8]

    public init(expires: Instant, signature: [UInt8]) {
        self.expires = expires
        self.signature = signature
    }

    static let domain: [UInt8] = Array("cairn-repair-mandate-v1".utf8)

    /// Domain-separated encoding of everything the mandate permits.
    public static func signingBytes(volume: VolumeID, slot: UInt8, owner: NodeID, repairer: NodeID, repairerKey: [UInt8],
                                    holder: NodeID, expires: Instant) -> [UInt8]
    {
        var w = ByteWriter(capacity: 96)
        w.raw(domain)
        volume.write(into: &w)
        w.u8(slot)
        w.u32(owner.raw)
        w.u32(repairer.raw)
        w.blob(repairerKey, max: ProtocolLimits.publicKeyBytesMax)
        w.u32(holder.raw)
        w.i64(expires.milliseconds)
        return w.bytes
    }

    /// True when this mandate lets `proposer` (signing with `proposerKey`) place `terms`
    /// on `holder` at `now`.
    public func permits(_ terms: ContractTerms, proposer: NodeID, proposerKey: [UInt8], holder: NodeID, now: Instant,
                        coordinatorKey: [UInt8], verifier: some SignatureVerifier) -> Bool
    {
        guard now < expires, terms.holder == holder, proposer != terms.owner, proposer != holder,
              proposerKey.count <= ProtocolLimits.publicKeyBytesMax
        else { return false }
        let message = Self.signingBytes(volume: terms.shard.volume, slot: terms.shard.index, owner: terms.owner,
                                        repairer: proposer, repairerKey: proposerKey, holder: holder, expires: expires)
        return verifier.verify(signature: signature, message: message, publicKey: coordinatorKey)
    }

    func encode(into w: inout ByteWriter) {
        w.i64(expires.milliseconds)
        w.blob(signature, max: ProtocolLimits.signatureBytesMax)
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> BlindRepairMandate {
        BlindRepairMandate(expires: Instant(milliseconds: try r.i64()), signature: try r.blob(max: ProtocolLimits.signatureBytesMax))
    }
}
