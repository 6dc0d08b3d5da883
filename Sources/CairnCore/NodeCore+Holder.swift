import CairnWire

/// Holder side of the node core: proposals, arriving shards, challenges, fetches and
/// releases of the contracts it holds for others.
extension NodeCore {
    mutating func onHolderMessage(from: NodeID, _ message: Message, now: Instant, into actions: inout [NodeAction]) {
        switch message {
        case let .propose(terms, _, _, _) where !terms.start.within(params.maxClockSkew, of: now):
            // Both sides count the term from its start: a start this node's clock disagrees
            // with would end the contract at another time on each side.
            actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.badTime.rawValue)))
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            // The owner itself (the transport authenticates the sender), or a holder repairing
            // blind on its behalf under the coordinator's mandate for this very placement.
            if from != terms.owner, terms.holder == me,
               !(mandate?.permits(terms, proposer: from, proposerKey: ownerKey, holder: me, now: now,
                                  coordinatorKey: coordinatorKey, verifier: verifier) ?? false)
            {
                actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.unauthorized.rawValue)))
                break
            }
            switch book.onPropose(terms, ownerKey: ownerKey, ownerSignature: ownerSignature, signer: signer,
                                  verifier: verifier, proposer: from)
            {
            case .success(let signature):
                actions.append(.send(to: from, .accept(contract: terms.id, holderSignature: signature)))
            case .failure(let refusal):
                actions.append(.send(to: from, .reject(contract: terms.id, reason: refusal.reason.rawValue)))
            }
        case let .storeSlot(contract, slot, first, to, _):
            guard let c = book.held[contract], c.proposer == from || c.terms.owner == from,
                  c.terms.shard == slot, c.state == .active, to.bytes <= c.terms.bytes
            else { break }
            let have = book.storedPacks(slot)
            if first != 0, to.packs <= have {
                // A resend after a lost acknowledgement: it is here already.
                actions.append(.send(to: from, .storeAck(contract: contract, packs: to.packs)))
            } else if first == 0 || first == have {
                actions.append(.storeSlot(contract: contract, slot: slot, from: first, to: to, replyTo: from))
            }
        case let .challenge(id, slot, pack, packs, selector):
            if book.storedPacks(slot) >= packs {
                actions.append(.readSegment(challenge: id, slot: slot, pack: pack, packs: packs, selector: selector,
                                            replyTo: from))
            } else {
                actions.append(.send(to: from, .challengeMissing(id: id)))
            }
        case let .fetch(request, slot):
            if book.holdsStored(slot) {
                actions.append(.readSlot(request: request, slot: slot, replyTo: from))
            } else {
                actions.append(.send(to: from, .fetchReply(request: request, slot: slot, ok: false, bytes: 0)))
            }
        case let .release(released, at):
            // From the owner, or from the repairer that proposed the contract in its name
            // (a blind repair's target that never acknowledged its slot is let go by the
            // repairer: acknowledged and ignored, it kept the shard under an active
            // contract nobody knew of until its term ended). A contract renewed in place
            // lets its renewal go: the owner never heard it was signed.
            let contract = book.heldRenewal(of: released) ?? released
            guard let c = book.held[contract], c.terms.owner == from || c.proposer == from else {
                actions.append(.send(to: from, .releaseAck(contract: released)))
                break
            }
            // A repairer lets go of a target it never heard had stored the slot; this one
            // has, and told the coordinator itself, which offers the slot to the owner: the
            // owner adopts it or releases it. Released here, an adopted holder would free
            // the owner's shard after its grace. The report is told again (it may have
            // been lost; the coordinator takes it once).
            if from != c.terms.owner, c.stored {
                actions.append(.send(to: .coordinator, .blindRepairDone(terms: c.terms, ownerSignature: c.ownerSignature,
                                                                      holderSignature: c.holderSignature)))
                actions.append(.send(to: from, .releaseAck(contract: released)))
                break
            }
            // The grace period runs from the owner's release, so both sides agree on its
            // end (a holder that was offline meanwhile has less of it left); an owner
            // cannot extend it by naming a later instant.
            if let until = book.onRelease(contract, now: now, releasedAt: min(at, now)) {
                actions.append(.note(.released(c.terms.shard, graceUntil: until)))
            }
            actions.append(.send(to: from, .releaseAck(contract: released)))
        default:
            preconditionFailure("not a holder's message: \(message.typeByte)")
        }
    }

    /// What this node holds for others, told to a coordinator that lost its directory (after
    /// this node took its number back, beside `announceVolumes`): one `holding` per stored
    /// slot of a contract its owner proposed (a blind repair's contract carries the
    /// repairer's signature, which says nothing about the owner's key), active or in grace,
    /// in contract order. `stored` is storage's account of a slot: its code and what it
    /// has (packs, bytes, root); nil when storage has none of it.
    public func reportHeld(stored: (SlotID) -> (k: Int, n: Int, extent: SlotExtent)?) -> [NodeAction] {
        var actions = [NodeAction]()
        for id in book.held.keys.sorted() {
            guard let c = book.held[id], let key = c.ownerKey, c.proposer == c.terms.owner, book.holdsStored(c.terms.shard),
                  let s = stored(c.terms.shard), s.extent.packs > 0, VolumeLayout.problem(k: s.k, n: s.n) == nil
            else { continue }
            let layout = VolumeLayout(k: s.k, n: s.n, packs: s.extent.packs, slotBytes: s.extent.bytes)
            actions.append(.send(to: .coordinator, .holding(HeldSlotReport(
                terms: c.terms, ownerKey: key, ownerSignature: c.ownerSignature, layout: layout, root: s.extent.root))))
        }
        return actions
    }

    /// Storage wrote the slot of `contract` up to `packs` and checked it against its roots
    /// (`verified`), durably: only then is it acknowledged, so an owner never counts a pack
    /// that a crash or a corrupt stream lost.
    public mutating func onSlotStored(contract: ContractID, slot: SlotID, packs: UInt32, replyTo: NodeID, verified: Bool,
                                      now: Instant) -> [NodeAction]
    {
        guard verified else { return [.note(.slotRefused(slot))] }
        guard book.onStore(contract, shard: slot, packs: packs) else { return [] }
        var actions: [NodeAction] = [.send(to: replyTo, .storeAck(contract: contract, packs: packs))]
        // A blind repair's slot, stored for the repairer: the coordinator hears of it from
        // this node too, so it is offered to the owner for adoption even when the
        // acknowledgement never reaches the repairer (lost, or the repairer away until its
        // deadline and this node away at its probe: random scenario 30031 gave a volume up
        // as lost while the only copy of its third shard sat here under a contract nobody
        // knew of). The coordinator takes the first report of a placement it ordered.
        if let c = book.held[contract], c.proposer != c.terms.owner, c.proposer == replyTo {
            actions.append(.send(to: .coordinator, .blindRepairDone(terms: c.terms, ownerSignature: c.ownerSignature,
                                                                  holderSignature: c.holderSignature)))
        }
        return actions
    }

    /// Storage read a segment for challenge `challenge` (nil: not, or no longer, here).
    public func onSegmentRead(challenge: UInt64, replyTo: NodeID, answer: SegmentProof?, now: Instant) -> [NodeAction] {
        guard let answer else { return [.send(to: replyTo, .challengeMissing(id: challenge))] }
        return [.send(to: replyTo, .challengeReply(id: challenge, proof: answer))]
    }

    /// Storage opened a slot for fetch `request`: the reply, and the slot streams behind it.
    public func onSlotRead(request: UInt64, slot: SlotID, replyTo: NodeID, answer: FetchAnswer, now: Instant) -> [NodeAction] {
        switch answer {
        case .data(let bytes): [.send(to: replyTo, .fetchReply(request: request, slot: slot, ok: true, bytes: bytes))]
        case .missing: [.send(to: replyTo, .fetchReply(request: request, slot: slot, ok: false, bytes: 0))]
        case .silent: []
        }
    }
}
