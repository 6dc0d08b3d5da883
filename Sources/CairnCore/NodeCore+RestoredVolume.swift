import CairnWire

/// A node restored on a new machine carries on as the owner of the volumes its owner's
/// earlier node placed (restore anywhere, then `cairn node run`): the shell opens each
/// volume again from the restored packs (`openVolume`, `appendPack` with the n shard roots
/// it computed from them, `closeVolume`), so every slot root is the owner's own, then hands
/// each slot's contract as its holder showed it (`contractHeld`) to `adoptRestoredSlot`,
/// which takes it only if this owner signed it and the holder's account of the slot is the
/// whole slot under that very root, or its first packs under the root the shell computed
/// for them (an upload the old machine did not finish: the rest is appended as to any
/// holder that fell behind). What no holder vouched for stays empty and is placed anew
/// (`restoredVolumeReady`).
extension NodeCore {
    /// Why a restored slot's contract was not taken over.
    public enum RestoredSlotRefusal: String, Error, Sendable, Equatable {
        /// Not this owner's contract, or the holder named in it is this node.
        case notMine
        /// No such volume or slot here, or the volume is lost.
        case unknownSlot
        /// The slot already has a holder or a contract (this one, or one being made).
        case taken
        /// The owner's signature does not check against this owner's key.
        case badSignature
        /// The term is over: the holder frees the slot after its grace.
        case expired
        /// The holder has neither the whole slot under the owner's root nor the prefix the
        /// shell computed.
        case notWhole
    }

    /// New proposals are numbered this far past a restored contract: the earlier node may
    /// have proposed contracts after its newest live one (refused, given up, released),
    /// which a holder may still keep under their number.
    static let restoredContractNumberMargin: UInt32 = 1 << 16

    /// Takes over slot `terms.shard` under the contract an earlier node of this owner made
    /// with `terms.holder`. `stored` is what the holder says it holds: the whole slot under
    /// the root this node computed, or — when the shell computed `prefix`, the extent of the
    /// slot's first `prefix.packs` packs from the restored packs — exactly that prefix; the
    /// packs after it are appended on the next repair ticks. Anything else is refused and
    /// the slot placed anew. Returns the root record to send, or why not.
    /// `offered`: the coordinator offered this very contract for adoption (a blind repair's,
    /// which its repairer signed in the owner's name: the coordinator checked that signature
    /// against the repairer it ordered, as it does for an owner that comes back), so the
    /// owner's own signature is not asked for; everything else is.
    public mutating func adoptRestoredSlot(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8],
                                           stored: SlotExtent, prefix: SlotExtent? = nil, offered: Bool = false,
                                           now: Instant) -> Result<[NodeAction], RestoredSlotRefusal>
    {
        guard terms.owner == me, terms.holder != me, terms.holder != .coordinator else { return .failure(.notMine) }
        guard let p = volumeIndex[terms.shard.volume], !volumes[p].lost, Int(terms.shard.index) < volumes[p].slots.count
        else { return .failure(.unknownSlot) }
        let s = Int(terms.shard.index)
        let slot = volumes[p].slots[s]
        guard slot.holder == nil, slot.contract == nil, slot.replacement == nil, book.owned[terms.id] == nil,
              slotOfContract[terms.id] == nil
        else { return .failure(.taken) }
        guard offered || verifier.verify(signature: ownerSignature, message: terms.signingBytes, publicKey: signer.publicKey) else {
            return .failure(.badSignature)
        }
        guard terms.end > now else { return .failure(.expired) }
        let whole = volumes[p].extent(s)
        let partial = prefix.map { $0.packs > 0 && $0.packs < whole.packs && $0.bytes < whole.bytes && stored == $0 } ?? false
        guard stored.packs > 0, stored == whole || partial else { return .failure(.notWhole) }
        guard book.adopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature) else { return .failure(.taken) }
        book.numberProposals(past: terms.id, margin: Self.restoredContractNumberMargin)
        volumes[p].slots[s] = OwnedSlot(holder: terms.holder, contract: terms.id, contractEnd: terms.end, stored: stored)
        slotOfContract[terms.id] = SlotRef(volume: p, slot: s)
        return .success([rootRecord(volume: p)])
    }

    /// A holder's contract for a restored slot that is not taken over (a blind repair's,
    /// which its repairer signed in the owner's name; one past its term; one for a slot
    /// taken): released through the release ledger, sent again until the holder
    /// acknowledges, and audited as a grace debt — released in good faith, the holder keeps
    /// the copy for the grace period, a last-resort source meanwhile. So the coordinator's
    /// later offer of the same contract (it offers a blind repair's for adoption) is known
    /// as one let go and is not adopted while the holder frees the copy: taken from a raw
    /// release, such an offer was adopted into a slot still being placed anew, and the
    /// owner counted a copy its holder was about to free.
    public mutating func releaseRestoredContract(_ terms: ContractTerms, now: Instant) -> [NodeAction] {
        let release = NodeAction.send(to: terms.holder, .release(contract: terms.id, at: now))
        guard terms.owner == me, terms.holder != me, terms.holder != .coordinator, book.owned[terms.id] == nil,
              releasing[terms.id] == nil, audits[terms.id] == nil, let p = volumeIndex[terms.shard.volume],
              Int(terms.shard.index) < volumes[p].slots.count
        else { return [release] }
        let s = Int(terms.shard.index)
        releasing[terms.id] = PendingRelease(holder: terms.holder, shard: terms.shard, extent: volumes[p].extent(s), at: now,
                                             retries: ProtocolLimits.releaseRetriesMax, end: terms.end, keptUntil: terms.graceEnd)
        audits[terms.id] = GraceDebt(holder: terms.holder, shard: terms.shard, extent: volumes[p].extent(s),
                                     until: min(now, terms.end) + terms.grace)
        return [release]
    }

    /// Every holder of restored volume `id` answered or was given up on: tell the
    /// coordinator the volume as it now stands and place the slots nobody vouched for.
    public mutating func restoredVolumeReady(_ id: VolumeID, now: Instant) -> [NodeAction] {
        guard let p = volumeIndex[id], !volumes[p].lost else { return [] }
        var actions = [rootRecord(volume: p)]
        requestMatch(volume: p, now: now, into: &actions)
        return actions
    }
}
