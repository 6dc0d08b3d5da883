import CairnWire

/// Blind repair in the node core: the repairer side (rebuilding an away owner's pack under
/// the coordinator's order) and the owner side (adopting what was done while away).
extension NodeCore {
    // MARK: Blind repair (repairer side)

    mutating func startBlindRepair(pack: PackID, owner: NodeID, geometry: PackGeometry, sources: [NodeID],
                                  targets: [BlindRepairTarget], now: Instant, into actions: inout [Action])
    {
        guard blindRepairs[pack] == nil, owner != me, !targets.isEmpty else { return }
        let k = geometry.k
        var d = BlindRepair(owner: owner, geometry: geometry, sources: sources, targets: targets,
                           deadline: now + params.repairTimeout
                               + transferTime(bytes: UInt64(k + targets.count) * geometry.shardBytes))
        // The shard this node holds counts as fetched.
        for (slot, node) in sources.enumerated() where node == me {
            if book.holdsStored(ShardID(pack: pack, index: UInt8(slot))) {
                d.fetchedMask |= 1 << UInt64(slot)
            }
        }
        var want = k - d.fetchedMask.nonzeroBitCount
        for (slot, node) in sources.enumerated() where want > 0 && node != .coordinator && node != me {
            let request = nextRequest
            nextRequest += 1
            d.fetchRequests[request] = slot
            actions.append(.send(to: node, .fetch(request: request, shard: ShardID(pack: pack, index: UInt8(slot)))))
            want -= 1
        }
        blindRepairs[pack] = d
        if d.fetchedMask.nonzeroBitCount >= k { proposeBlindRepair(pack, now: now, into: &actions) }
    }

    mutating func onBlindRepairFetched(request: UInt64, shard: ShardID, ok: Bool, bytes: UInt64, from: NodeID,
                                    now: Instant, into actions: inout [Action])
    {
        guard var d = blindRepairs[shard.pack], let slot = d.fetchRequests.removeValue(forKey: request),
              Int(shard.index) == slot, d.sources[slot] == from
        else { return }
        let had = d.fetchedMask.nonzeroBitCount >= d.k
        if ok {
            d.fetchedMask |= 1 << UInt64(slot)
            actions.append(.note(.repairBytes(bytes)))
        }
        blindRepairs[shard.pack] = d
        if !had && d.fetchedMask.nonzeroBitCount >= d.k { proposeBlindRepair(shard.pack, now: now, into: &actions) }
    }

    /// Rebuilt: propose a contract for every target, signed on the owner's behalf.
    mutating func proposeBlindRepair(_ pack: PackID, now: Instant, into actions: inout [Action]) {
        guard var d = blindRepairs[pack] else { return }
        for (i, t) in d.targets.enumerated() where t.node != me && t.node != d.owner {
            blindRepairCounter &+= 1
            let id = ContractID(owner: me, counter: 0x8000_0000 | blindRepairCounter)
            let terms = ContractTerms(id: id, owner: d.owner, holder: t.node, shard: ShardID(pack: pack, index: t.slot),
                                      bytes: d.shardBytes, start: now, term: params.term, grace: params.grace)
            let signature = signer.sign(terms.signingBytes)
            d.proposals[id] = (i, terms, signature, nil)
            blindRepairContracts[id] = pack
            actions.append(.send(to: t.node, .propose(terms: terms, ownerKey: signer.publicKey, ownerSignature: signature,
                                                      mandate: t.mandate)))
        }
        blindRepairs[pack] = d
    }

    mutating func onBlindRepairAccept(_ id: ContractID, signature: [UInt8], from: NodeID, now: Instant,
                                   into actions: inout [Action])
    {
        guard let pack = blindRepairContracts[id], var d = blindRepairs[pack], var p = d.proposals[id],
              p.terms.holder == from, p.holderSignature == nil
        else { return }
        let target = d.targets[p.target]
        guard verifier.verify(signature: signature, message: p.terms.signingBytes, publicKey: target.publicKey) else {
            d.proposals[id] = nil
            blindRepairContracts[id] = nil
            blindRepairs[pack] = d
            return
        }
        p.holderSignature = signature
        d.proposals[id] = p
        blindRepairs[pack] = d
        actions.append(.note(.repairBytes(d.shardBytes)))
        actions.append(.send(to: from, .storeShard(contract: id, shard: p.terms.shard, geometry: d.geometry, root: target.root)))
    }

    mutating func onBlindRepairStored(_ id: ContractID, from: NodeID, now: Instant, into actions: inout [Action]) {
        guard let pack = blindRepairContracts.removeValue(forKey: id), var d = blindRepairs[pack],
              let p = d.proposals.removeValue(forKey: id), let holderSignature = p.holderSignature, p.terms.holder == from
        else { return }
        actions.append(.send(to: .coordinator, .blindRepairDone(terms: p.terms, ownerSignature: p.signature,
                                                          holderSignature: holderSignature)))
        d.targets[p.target].node = .coordinator
        blindRepairs[pack] = d
        if d.targets.allSatisfy({ $0.node == .coordinator }) { endBlindRepair(pack, now: now, into: &actions) }
    }

    mutating func endBlindRepair(_ pack: PackID, now: Instant, into actions: inout [Action]) {
        guard let d = blindRepairs.removeValue(forKey: pack) else { return }
        for id in d.proposals.keys.sorted() {
            blindRepairContracts[id] = nil
            // Accepted but never stored: tell the holder to let it go.
            if let p = d.proposals[id], p.holderSignature != nil {
                actions.append(.send(to: p.terms.holder, .release(contract: id, at: now)))
            }
        }
    }

    // MARK: Blind repair (owner side): adopting what was done while away

    mutating func onAdopt(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8], now: Instant,
                          into actions: inout [Action])
    {
        guard terms.owner == me, let p = packIndex[terms.shard.pack], !packs[p].lost,
              Int(terms.shard.index) < packs[p].slots.count
        else { return }
        let s = Int(terms.shard.index)
        if packs[p].slots[s].contract == terms.id { return }
        guard book.adopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature) else { return }
        if let pending = packs[p].slots[s].pendingContract, let holder = packs[p].slots[s].pendingHolder {
            abandon(pack: p, slot: s, contract: pending, holder: holder, now: now, into: &actions)
        }
        if let old = packs[p].slots[s].contract, let oldHolder = packs[p].slots[s].holder {
            releaseReplaced(pack: p, slot: s, contract: old, holder: oldHolder, now: now, into: &actions)
        }
        packs[p].slots[s] = OwnedSlot(holder: terms.holder, contract: terms.id, contractEnd: terms.end)
        slotOfContract[terms.id] = SlotRef(pack: p, slot: s)
        actions.append(rootRecord(pack: p))
    }
}
