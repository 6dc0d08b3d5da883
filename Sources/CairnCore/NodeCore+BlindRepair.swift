import CairnWire

/// Blind repair in the node core: the repairer side (rebuilding an away owner's volume under
/// the coordinator's order) and the owner side (adopting what was done while away).
extension NodeCore {
    // MARK: Blind repair (repairer side)

    /// The layout of the blind repair of `volume` this node is carrying out; nil when there
    /// is none. The shell rebuilds a target's slot from k of the volume's slots (`k`,
    /// `packs`), and drops the fetched streams it kept for a repair once this is nil.
    public func blindRepairLayout(_ volume: VolumeID) -> VolumeLayout? { blindRepairs[volume]?.layout }

    /// Whether fetch `request` of `slot` is one of a blind repair's: the shell keeps its
    /// stream, once verified, to rebuild the missing slots from.
    public func isBlindRepairFetch(_ request: UInt64, of slot: SlotID) -> Bool {
        blindRepairs[slot.volume]?.fetchRequests[request] == Int(slot.index)
    }

    mutating func startBlindRepair(volume: VolumeID, owner: NodeID, layout: VolumeLayout, sources: [NodeID],
                                  roots: [[UInt8]], targets: [BlindRepairTarget], now: Instant, into actions: inout [NodeAction])
    {
        guard blindRepairs[volume] == nil, owner != me, !targets.isEmpty, roots.count == sources.count else { return }
        let k = layout.k
        var d = BlindRepair(owner: owner, layout: layout, sources: sources, roots: roots, targets: targets,
                           deadline: now + params.repairTimeout
                               + transferTime(bytes: UInt64(k + targets.count) * layout.slotBytes))
        // The shard this node holds counts as fetched.
        for (slot, node) in sources.enumerated() where node == me {
            if book.storedPacks(SlotID(volume: volume, index: UInt8(slot))) >= layout.packs {
                d.fetchedMask |= 1 << UInt64(slot)
            }
        }
        var want = k - d.fetchedMask.nonzeroBitCount
        for (slot, node) in sources.enumerated() where want > 0 && node != .coordinator && node != me {
            let request = nextRequest
            nextRequest += 1
            d.fetchRequests[request] = slot
            actions.append(.send(to: node, .fetch(request: request, slot: SlotID(volume: volume, index: UInt8(slot)))))
            want -= 1
        }
        blindRepairs[volume] = d
        if d.fetchedMask.nonzeroBitCount >= k { proposeBlindRepair(volume, now: now, into: &actions) }
    }

    /// After the node's process restarted (the shell's word: a simulated node never loses
    /// its process): what each blind repair still within its deadline had on the wire went
    /// with the old process's sessions, and is sent again — the fetches still open (the
    /// same requests), the proposals not yet accepted (a target that did accept answers the
    /// same again), and the whole slot to each target that accepted but has not
    /// acknowledged it (one that stored it meanwhile stores it again and acknowledges).
    /// Without it a restarted repairer waited out its deadline and released its targets.
    public mutating func resumeBlindRepairs(now: Instant) -> [NodeAction] {
        var actions = [NodeAction]()
        for volume in blindRepairs.keys.sorted() {
            guard let d = blindRepairs[volume], d.deadline > now, d.probed == nil else { continue }
            for request in d.fetchRequests.keys.sorted() {
                let slot = d.fetchRequests[request]!
                actions.append(.send(to: d.sources[slot], .fetch(request: request, slot: SlotID(volume: volume, index: UInt8(slot)))))
            }
            for id in d.proposals.keys.sorted() {
                let p = d.proposals[id]!
                let target = d.targets[p.target]
                if p.holderSignature == nil {
                    actions.append(.send(to: p.terms.holder, .propose(terms: p.terms, ownerKey: signer.publicKey,
                                                                      ownerSignature: p.signature, mandate: target.mandate)))
                } else {
                    let extent = SlotExtent(packs: d.layout.packs, bytes: d.layout.slotBytes, root: target.root)
                    actions.append(.send(to: p.terms.holder, .storeSlot(
                        contract: id, slot: p.terms.shard, from: 0, to: extent,
                        bytes: ProtocolLimits.slotStreamBytes(packs: extent.packs, shardBytes: extent.bytes))))
                }
            }
        }
        return actions
    }

    mutating func onBlindRepairFetched(request: UInt64, shard: SlotID, ok: Bool, bytes: UInt64, from: NodeID,
                                    now: Instant, into actions: inout [NodeAction])
    {
        guard var d = blindRepairs[shard.volume], let slot = d.fetchRequests.removeValue(forKey: request),
              Int(shard.index) == slot, d.sources[slot] == from
        else { return }
        let had = d.fetchedMask.nonzeroBitCount >= d.k
        if ok {
            d.fetchedMask |= 1 << UInt64(slot)
            actions.append(.note(.repairBytes(bytes)))
        }
        blindRepairs[shard.volume] = d
        if !had && d.fetchedMask.nonzeroBitCount >= d.k { proposeBlindRepair(shard.volume, now: now, into: &actions) }
    }

    /// Rebuilt: propose a contract for every target, signed on the owner's behalf.
    mutating func proposeBlindRepair(_ volume: VolumeID, now: Instant, into actions: inout [NodeAction]) {
        guard var d = blindRepairs[volume] else { return }
        for (i, t) in d.targets.enumerated() where t.node != me && t.node != d.owner {
            blindRepairCounter &+= 1
            let id = ContractID(owner: me, counter: 0x8000_0000 | blindRepairCounter)
            let terms = ContractTerms(id: id, owner: d.owner, holder: t.node, shard: SlotID(volume: volume, index: t.slot),
                                      bytes: d.slotBytes, start: now, term: params.term, grace: params.grace)
            let signature = signer.sign(terms.signingBytes)
            d.proposals[id] = BlindRepair.Proposal(target: i, terms: terms, signature: signature, holderSignature: nil)
            blindRepairContracts[id] = volume
            actions.append(.send(to: t.node, .propose(terms: terms, ownerKey: signer.publicKey, ownerSignature: signature,
                                                      mandate: t.mandate)))
        }
        blindRepairs[volume] = d
    }

    mutating func onBlindRepairAccept(_ id: ContractID, signature: [UInt8], from: NodeID, now: Instant,
                                   into actions: inout [NodeAction])
    {
        guard let volume = blindRepairContracts[id], var d = blindRepairs[volume], var p = d.proposals[id],
              p.terms.holder == from, p.holderSignature == nil
        else { return }
        let target = d.targets[p.target]
        guard verifier.verify(signature: signature, message: p.terms.signingBytes, publicKey: target.publicKey) else {
            d.proposals[id] = nil
            blindRepairContracts[id] = nil
            blindRepairs[volume] = d
            return
        }
        p.holderSignature = signature
        d.proposals[id] = p
        blindRepairs[volume] = d
        actions.append(.note(.repairBytes(d.slotBytes)))
        let extent = SlotExtent(packs: d.layout.packs, bytes: d.layout.slotBytes, root: target.root)
        actions.append(.send(to: from, .storeSlot(contract: id, slot: p.terms.shard, from: 0, to: extent,
                                                  bytes: ProtocolLimits.slotStreamBytes(packs: extent.packs, shardBytes: extent.bytes))))
    }

    mutating func onBlindRepairStored(_ id: ContractID, from: NodeID, now: Instant, into actions: inout [NodeAction]) {
        guard let volume = blindRepairContracts.removeValue(forKey: id), var d = blindRepairs[volume],
              let p = d.proposals.removeValue(forKey: id), let holderSignature = p.holderSignature, p.terms.holder == from
        else { return }
        actions.append(.send(to: .coordinator, .blindRepairDone(terms: p.terms, ownerSignature: p.signature,
                                                          holderSignature: holderSignature)))
        blindRepairsReported[id] = ReportedBlindRepair(terms: p.terms, ownerSignature: p.signature, holderSignature: holderSignature,
                                                       until: d.targets[p.target].mandate.expires)
        d.targets[p.target].node = .coordinator
        blindRepairs[volume] = d
        if d.targets.allSatisfy({ $0.node == .coordinator }) { endBlindRepair(volume, now: now, into: &actions) }
    }

    /// The repair's deadline came with targets that accepted but never acknowledged their
    /// slot: each is asked once whether the slot is there (a store of no packs past the
    /// whole slot, which a holder that has it acknowledges as it does a resent append), and
    /// the repair ends at the next tick. A holder whose acknowledgement was lost (to the
    /// network, or to this node being away when it came) is then reported like any other;
    /// one still silent is released. (Released at once, a slot stored under a lost
    /// acknowledgement stayed held under a contract nobody knew of, never offered for
    /// adoption: random scenario 191, `--long`, gave two volumes up as lost while copies
    /// were held.) False when there is nothing to ask, or it was asked already.
    mutating func probeBlindRepair(_ volume: VolumeID, now: Instant, into actions: inout [NodeAction]) -> Bool {
        guard var d = blindRepairs[volume], d.probed == nil else { return false }
        var asked = false
        for id in d.proposals.keys.sorted() {
            guard let p = d.proposals[id], p.holderSignature != nil else { continue }
            let extent = SlotExtent(packs: d.layout.packs, bytes: d.layout.slotBytes, root: d.targets[p.target].root)
            actions.append(.send(to: p.terms.holder, .storeSlot(contract: id, slot: p.terms.shard, from: extent.packs,
                                                                to: extent, bytes: 0)))
            asked = true
        }
        guard asked else { return false }
        d.probed = now
        blindRepairs[volume] = d
        return true
    }

    mutating func endBlindRepair(_ volume: VolumeID, now: Instant, into actions: inout [NodeAction]) {
        guard let d = blindRepairs.removeValue(forKey: volume) else { return }
        for id in d.proposals.keys.sorted() {
            blindRepairContracts[id] = nil
            // Accepted but never acknowledged as stored (it may be, and only the
            // acknowledgement was lost): tell the holder to let it go, again on later ticks
            // until it acknowledges (`releasing`), so no copy stays held under a contract
            // nobody counts until its term ends.
            if let p = d.proposals[id], p.holderSignature != nil {
                actions.append(.send(to: p.terms.holder, .release(contract: id, at: now)))
                let target = d.targets[p.target]
                releasing[id] = PendingRelease(
                    holder: p.terms.holder, shard: p.terms.shard,
                    extent: SlotExtent(packs: d.layout.packs, bytes: d.layout.slotBytes, root: target.root), at: now,
                    retries: ProtocolLimits.releaseRetriesMax, end: p.terms.end, keptUntil: p.terms.graceEnd)
            }
        }
    }

    /// Re-sends the blind repairs reported while their orders' mandates last, and forgets
    /// those whose mandates expired (the coordinator takes no report after that).
    mutating func resendBlindRepairReports(now: Instant, into actions: inout [NodeAction]) {
        guard !blindRepairsReported.isEmpty else { return }
        for id in blindRepairsReported.keys.sorted() {
            let r = blindRepairsReported[id]!
            if r.until <= now {
                blindRepairsReported[id] = nil
                continue
            }
            actions.append(.send(to: .coordinator, .blindRepairDone(terms: r.terms, ownerSignature: r.ownerSignature,
                                                              holderSignature: r.holderSignature)))
        }
    }

    // MARK: Blind repair (owner side): adopting what was done while away

    /// A repair's holder the owner does not adopt keeps the shard for the grace period from
    /// now, or from its term's end if that came first: audited, and a last-resort source
    /// until then (`graceSources`).
    private mutating func auditRepairHolder(_ terms: ContractTerms, volume p: Int, slot s: Int, now: Instant) {
        audits[terms.id] = GraceDebt(holder: terms.holder, shard: terms.shard, extent: volumes[p].extent(s),
                                     until: min(now, terms.end) + terms.grace)
    }

    mutating func onAdopt(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8], now: Instant,
                          into actions: inout [NodeAction])
    {
        guard terms.owner == me, let p = volumeIndex[terms.shard.volume], !volumes[p].lost,
              Int(terms.shard.index) < volumes[p].slots.count
        else { return }
        let s = Int(terms.shard.index)
        if volumes[p].slots[s].contract == terms.id { return }
        // A stale offer: a contract this owner let go since (still owed a release or a
        // grace period), or one past its term. Adopting it would bring back a holder that
        // has freed, or will free, the shard.
        let known = releasing[terms.id] != nil || audits[terms.id] != nil || unconfirmed[terms.id] != nil
            || book.owned[terms.id] != nil
        guard terms.end > now, !known else {
            // Past its term but not its grace: the repair's holder keeps the shard until the
            // grace ends, and may be the only one left that does (the owner was away longer
            // than its own contracts lasted). It counts as a last-resort source until then,
            // as a holder released in good faith does (`graceSources`), instead of being
            // ignored while the volume is given up as lost (random scenario 30052).
            if !known, terms.end <= now, terms.graceEnd > now, volumes[p].slots[s].holder != terms.holder {
                auditRepairHolder(terms, volume: p, slot: s, now: now)
            }
            return
        }
        // Older than the slot's own contract: the owner re-placed the slot after the
        // repair. The repair's holder is told to let its copy go (after its grace), so it
        // does not keep an active contract nobody counts until the term ends.
        if let current = volumes[p].slots[s].contract, let start = book.owned[current]?.terms.start, start >= terms.start {
            releasing[terms.id] = PendingRelease(holder: terms.holder, shard: terms.shard, extent: volumes[p].extent(s),
                                                 at: now, retries: ProtocolLimits.releaseRetriesMax, end: terms.end,
                                                 keptUntil: terms.graceEnd)
            // Released in good faith, it keeps the shard for the grace period from now: a
            // last-resort source meanwhile, also once it acknowledged the release (the
            // slot's new holder may fail; random scenario 30122 lost a volume that way).
            auditRepairHolder(terms, volume: p, slot: s, now: now)
            actions.append(.send(to: terms.holder, .release(contract: terms.id, at: now)))
            return
        }
        guard book.adopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature) else { return }
        if let pending = volumes[p].slots[s].pendingContract, let holder = volumes[p].slots[s].pendingHolder {
            abandon(volume: p, slot: s, contract: pending, holder: holder, now: now, into: &actions)
        }
        if let old = volumes[p].slots[s].contract, let oldHolder = volumes[p].slots[s].holder {
            releaseReplaced(volume: p, slot: s, contract: old, holder: oldHolder, now: now, into: &actions)
        }
        // The repairer re-created the slot from complete slots of the volume as recorded,
        // which is everything appended so far.
        volumes[p].slots[s] = OwnedSlot(holder: terms.holder, contract: terms.id, contractEnd: terms.end,
                                        stored: volumes[p].extent(s))
        slotOfContract[terms.id] = SlotRef(volume: p, slot: s)
        actions.append(rootRecord(volume: p))
    }
}
