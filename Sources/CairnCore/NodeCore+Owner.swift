import CairnWire

/// Owner side of the node core: placement, uptime-driven repair, fetches for rebuilds,
/// the grace sources of last resort, and the verdicts of challenges.
extension NodeCore {
    mutating func expirePending(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        if let asked = volumes[p].matchRequested, now - asked >= params.repairTimeout {
            volumes[p].matchRequested = nil
        }
        for s in volumes[p].slots.indices {
            // Read in place (a copied slot would retain and release its pending key).
            guard let pending = volumes[p].slots[s].pending, let replacement = volumes[p].slots[s].replacement else { continue }
            let timeout: Interval
            switch pending {
            case .proposing: timeout = params.repairTimeout
            case .accepted:
                // Waiting for this node's own rebuild, not for the holder: a fetch source
                // that died makes the rebuild take longer, and giving up the holder that
                // already said yes would also bar it from the volume while it is released.
                guard haveData(p) else { continue }
                timeout = params.repairTimeout
            case .storing:
                // An upload waits behind the others on this node's link: allow for the backlog.
                timeout = params.repairTimeout + uploadBacklog
            }
            guard now - replacement.since >= timeout else { continue }
            abandon(volume: p, slot: s, contract: replacement.contract, holder: replacement.holder, now: now, into: &actions)
        }
        for s in volumes[p].slots.indices {
            // No acknowledgement of an append: send it again on this tick.
            if let append = volumes[p].slots[s].append, now - append.since >= params.repairTimeout + uploadBacklog {
                volumes[p].slots[s].append = nil
            }
            sendAppend(volume: p, slot: s, now: now, into: &actions)
        }
        if let deadline = volumes[p].fetchDeadline, deadline <= now {
            // A round sent before this node's current session may have been answered while
            // it was away (the replies were lost with its session): no holder missed it.
            let sent = volumes[p].fetchSent
            let overSession = sent.map { s in sessionStart.map { s < $0 } ?? false } ?? false
            for request in volumes[p].fetchRequests.keys.sorted() where !overSession {
                let s = volumes[p].fetchRequests[request]!
                volumes[p].slots[s].fetchMisses += 1
                if volumes[p].slots[s].fetchMisses >= params.fetchMissesMax, let h = volumes[p].slots[s].holder,
                   !volumes[p].slots[s].unhealthy
                {
                    volumes[p].slots[s].unhealthy = true
                    // `since`: when the missed fetch was sent (the coordinator counts it only
                    // against a holder up across it).
                    actions.append(.send(to: .coordinator, .report(holder: h, fault: .refusedFetch,
                                                                   since: sent ?? contractStart(volume: p, slot: s))))
                    actions.append(.note(.fault(holder: h, .refusedFetch)))
                }
            }
            volumes[p].fetchRequests = [:]
            volumes[p].graceRequests = [:]
            volumes[p].fetchDeadline = nil
            if needsData(p) { startFetch(volume: p, now: now, into: &actions) }
        }
    }

    /// How long `bytes` take on this node's uplink (`speed` is in kbit/s).
    func transferTime(bytes: UInt64) -> Interval {
        Interval(milliseconds: Int64(min(bytes * 8 / UInt64(max(speed, 1)), UInt64(Int64.max / 2))))
    }

    mutating func clearPending(volume p: Int, slot s: Int) {
        volumes[p].slots[s].replacement = nil
    }

    // MARK: Placement and repair (owner side)

    /// The whole volume is at hand: every pack in the local pack store, or rebuilt from k
    /// fetched slots that, with what is local, cover every pack.
    func haveData(_ p: Int) -> Bool {
        haveData(volume: p, from: 0)
    }

    /// Packs `from..<layout.packs` are at hand (local, or in the rebuilt data).
    func haveData(volume p: Int, from: UInt32) -> Bool {
        from >= volumes[p].localFrom
            || (volumes[p].fetchedMask.nonzeroBitCount >= volumes[p].layout.k && volumes[p].fetchedPacks >= volumes[p].localFrom)
    }

    /// Some accepted replacement waits for data that is not at hand.
    func needsData(_ p: Int) -> Bool {
        !haveData(p) && volumes[p].slots.contains { $0.pending == .accepted }
    }

    /// Asks the coordinator for holders for every slot of the volume that the planner says
    /// to re-create (all empty slots during the initial upload).
    mutating func requestMatch(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        guard !volumes[p].lost else { return }
        renewInPlace(volume: p, now: now, into: &actions)
        guard volumes[p].matchRequested == nil else { return }
        // Read in place, on every repair tick for every volume: `count(where:)` copied each
        // slot (retaining its roots and keys).
        let repairing = volumes[p].repairing
        let capacity = volumes[p].capacity
        // The slots to match that the budget allows: any, within the budget; at a full
        // budget, those whose current contract's share a replacement can take over.
        let free = book.canPlace(bytes: capacity)
        let renewBy = now + params.renewalLead
        let count = volumes[p].slots.withUnsafeBufferPointer { slots in
            slots.indices.count { s in
                slots[s].wantsHolder(repairing: repairing, renewBy: renewBy)
                    && (free || book.canPlace(bytes: capacity, replacing: slots[s].contract))
            }
        }
        guard count > 0 else { return }
        var exclude = volumes[p].recentHolders
        volumes[p].slots.withUnsafeBufferPointer { slots in
            for s in slots.indices {
                if let h = slots[s].holder { exclude.append(h) }
                if let h = slots[s].pendingHolder { exclude.append(h) }
            }
        }
        exclude.sort()
        let request = nextRequest
        nextRequest += 1
        pendingMatches[request] = p
        volumes[p].matchRequested = now
        actions.append(.send(to: .coordinator, .matchRequest(
            request: request, volume: volumes[p].id, slotBytes: volumes[p].capacity, count: UInt8(count), speed: speed,
            exclude: exclude)))
    }

    /// Proposes to each holder whose contract's term is about to end a new contract for
    /// the slot it keeps (`OwnedSlot.renewsInPlace`): a renewal costs one round trip, no
    /// transfer and no second copy's space. Every other renewal, and one this holder
    /// refuses, is a re-placement through the coordinator.
    mutating func renewInPlace(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        let renewBy = now + params.renewalLead
        var proposed = false
        for s in volumes[p].slots.indices where volumes[p].slots[s].renewsInPlace(renewBy: renewBy, now: now) {
            guard let old = volumes[p].slots[s].contract, let holder = volumes[p].slots[s].holder,
                  let key = book.owned[old]?.holderKey, book.canPlace(bytes: volumes[p].capacity, replacing: old)
            else { continue }
            let contract = book.propose(holder: holder, shard: SlotID(volume: volumes[p].id, index: UInt8(s)),
                                        bytes: volumes[p].capacity, now: now, term: params.term, grace: params.grace,
                                        replacing: old, signer: signer)
            slotOfContract[contract.terms.id] = SlotRef(volume: p, slot: s)
            volumes[p].slots[s].replacement = .proposing(holder: holder, contract: contract.terms.id, key: key, since: now)
            proposalDeadlines.add(ProposalDeadlines.Entry(due: now + params.proposalTimeout, volume: volumes[p].id,
                                                          slot: s, contract: contract.terms.id))
            actions.append(.send(to: holder, .propose(terms: contract.terms, ownerKey: signer.publicKey,
                                                      ownerSignature: contract.ownerSignature, mandate: nil)))
            proposed = true
        }
        if proposed { actions.append(.setTimer(.expiry, at: now + params.proposalTimeout)) }
    }

    /// The holder accepted the renewal in place of its slot's contract (`renewInPlace`): the
    /// new contract is the slot's from now on, on the old one's budget share, and the old
    /// one is forgotten (the holder replaced it; nothing to release or audit).
    mutating func takeRenewal(volume p: Int, slot s: Int, contract: ContractID, into actions: inout [NodeAction]) {
        guard let old = volumes[p].slots[s].contract else { return }
        book.onStoreAck(contract)
        book.onRenewedInPlace(contract, of: old)
        book.drop(ownedID: old)
        slotOfContract[old] = nil
        volumes[p].slots[s].contract = contract
        volumes[p].slots[s].contractEnd = book.ownedEnd(contract)
        volumes[p].slots[s].replacement = nil
        volumes[p].slots[s].renewalRefused = nil
        actions.append(.note(.contractRenewed(old, contract)))
    }

    mutating func onMatchReply(request: UInt64, candidates: [Candidate], now: Instant, into actions: inout [NodeAction]) {
        guard let p = pendingMatches.removeValue(forKey: request) else { return }
        volumes[p].matchRequested = nil
        guard !volumes[p].lost else { return }
        var next = 0
        var proposed = false
        for s in volumes[p].slots.indices {
            let slot = volumes[p].slots[s]
            guard slot.wantsHolder(repairing: volumes[p].repairing, renewBy: now + params.renewalLead) else { continue }
            guard book.canPlace(bytes: volumes[p].capacity, replacing: slot.contract) else { continue }
            // The next candidate not already holding (or about to hold) a shard of this volume.
            var chosen: Candidate? = nil
            while next < candidates.count {
                let c = candidates[next]
                next += 1
                let taken = c.node == me || volumes[p].recentHolders.contains(c.node)
                    || volumes[p].slots.contains { $0.holder == c.node || $0.pendingHolder == c.node }
                if !taken {
                    chosen = c
                    break
                }
            }
            guard let candidate = chosen else { break }
            let contract = book.propose(holder: candidate.node, shard: SlotID(volume: volumes[p].id, index: UInt8(s)),
                                        bytes: volumes[p].capacity, now: now, term: params.term, grace: params.grace,
                                        replacing: slot.contract, signer: signer)
            slotOfContract[contract.terms.id] = SlotRef(volume: p, slot: s)
            volumes[p].slots[s].replacement = .proposing(holder: candidate.node, contract: contract.terms.id,
                                                         key: candidate.publicKey, since: now)
            proposalDeadlines.add(ProposalDeadlines.Entry(due: now + params.proposalTimeout, volume: volumes[p].id,
                                                          slot: s, contract: contract.terms.id))
            actions.append(.send(to: candidate.node, .propose(terms: contract.terms, ownerKey: signer.publicKey,
                                                             ownerSignature: contract.ownerSignature, mandate: nil)))
            proposed = true
        }
        // A proposal is one small round trip: one nobody answers is given up after the
        // proposal timeout, not at a repair tick hours later.
        if proposed { actions.append(.setTimer(.expiry, at: now + params.proposalTimeout)) }
    }

    /// The `.expiry` timer: proposals unanswered for the proposal timeout are abandoned
    /// (their candidates kept off the volume while the release is pending) and their slots
    /// matched again; the timer is armed again for any proposal still waiting.
    mutating func expireProposals(now: Instant, into actions: inout [NodeAction]) {
        if proposalDeadlines.stale { proposalDeadlines.rebuild(from: volumes, timeout: params.proposalTimeout) }
        // The proposals due, in volume then slot order (as a walk of every slot would meet
        // them), each still the slot's proposal; the index drops what no longer is.
        var due = [(p: Int, s: Int, holder: NodeID, contract: ContractID)]()
        for e in proposalDeadlines.takeDue(by: now) {
            guard let (p, holder) = proposing(e) else { continue }
            due.append((p, e.slot, holder, e.contract))
        }
        due.sort { ($0.p, $0.s) < ($1.p, $1.s) }
        for (i, d) in due.enumerated() {
            abandon(volume: d.p, slot: d.s, contract: d.contract, holder: d.holder, now: now, into: &actions)
            if i == due.count - 1 || due[i + 1].p != d.p { requestMatch(volume: d.p, now: now, into: &actions) }
        }
        // The earliest proposal still waiting (entries that no longer name one are dropped).
        while let first = proposalDeadlines.first, proposing(first) == nil { proposalDeadlines.removeFirst() }
        if let next = proposalDeadlines.first?.due { actions.append(.setTimer(.expiry, at: next)) }
    }

    /// The volume (by position) and candidate of an indexed proposal that is still its
    /// slot's pending proposal, in a volume not lost; nil for an entry that is not.
    private func proposing(_ e: ProposalDeadlines.Entry) -> (Int, NodeID)? {
        guard let p = volumeIndex[e.volume], !volumes[p].lost, e.slot < volumes[p].slots.count,
              case let .proposing(holder, contract, _, since)? = volumes[p].slots[e.slot].replacement,
              contract == e.contract, since + params.proposalTimeout == e.due
        else { return nil }
        return (p, holder)
    }

    mutating func sendStore(volume p: Int, slot s: Int, now: Instant, into actions: inout [NodeAction]) {
        guard let contract = volumes[p].slots[s].pendingContract, let holder = volumes[p].slots[s].pendingHolder else { return }
        let extent = volumes[p].extent(s)
        volumes[p].slots[s].replacement = .storing(holder: holder, contract: contract, extent: extent, since: now)
        if !volumes[p].localCopy { actions.append(.note(.repairBytes(extent.bytes))) }
        actions.append(.send(to: holder, .storeSlot(
            contract: contract, slot: SlotID(volume: volumes[p].id, index: UInt8(s)), from: 0, to: extent,
            bytes: ProtocolLimits.slotStreamBytes(packs: extent.packs, shardBytes: extent.bytes))))
    }

    /// Sends a placed holder the packs appended since it last acknowledged, when they are
    /// at hand and nothing else is on its way to it.
    mutating func sendAppend(volume p: Int, slot s: Int, now: Instant, into actions: inout [NodeAction]) {
        // Read in place: this runs for every slot on every repair tick.
        let stored = volumes[p].slots[s].stored.packs
        guard stored > 0, stored < volumes[p].layout.packs, volumes[p].slots[s].appending == nil,
              !volumes[p].slots[s].failed, let holder = volumes[p].slots[s].holder, let contract = volumes[p].slots[s].contract
        else { return }
        let storedBytes = volumes[p].slots[s].stored.bytes
        guard haveData(volume: p, from: stored) else {
            // This holder fell behind the packs still kept locally: rebuild them first.
            startFetch(volume: p, now: now, into: &actions)
            return
        }
        let extent = volumes[p].extent(s)
        volumes[p].slots[s].append = OwnedSlot.Append(extent: extent, since: now)
        actions.append(.send(to: holder, .storeSlot(
            contract: contract, slot: SlotID(volume: volumes[p].id, index: UInt8(s)), from: stored, to: extent,
            bytes: ProtocolLimits.slotStreamBytes(packs: extent.packs - stored, shardBytes: extent.bytes - storedBytes))))
    }

    /// Every slot of the volume is on a good holder that has every pack: a repair is over,
    /// fetched data and the local copies can go.
    mutating func settle(volume p: Int, into actions: inout [NodeAction]) {
        let packs = volumes[p].layout.packs
        let done = volumes[p].slots.allSatisfy {
            $0.holder != nil && $0.pending == nil && !$0.failed && !$0.unhealthy && $0.stored.packs == packs
        }
        guard done else { return }
        let initialUpload = volumes[p].localCopy
        volumes[p].fetchedMask = 0
        volumes[p].fetchedPacks = UInt32.max
        volumes[p].fetchRequests = [:]
        volumes[p].graceRequests = [:]
        volumes[p].graceRefused = []
        volumes[p].fetchDeadline = nil
        if volumes[p].repairing {
            volumes[p].repairing = false
            if !initialUpload { actions.append(.note(.repairCompleted(volumes[p].id))) }
        }
        if volumes[p].localFrom < packs {
            volumes[p].localFrom = packs
            actions.append(.note(.placed(volumes[p].id, packs: packs)))
        }
    }

    /// Asks k fetchable holders (healthy first, fewest misses first) for their shards.
    mutating func startFetch(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        guard volumes[p].fetchDeadline == nil else { return }
        var sources = volumes[p].slots.indices.filter { s in
            let slot = volumes[p].slots[s]
            return slot.holder != nil && !slot.noData && volumes[p].fetchedMask & (1 << UInt64(s)) == 0
        }
        // Healthy holders first; holders that failed a challenge only as a last resort (a
        // fetched shard is checked against its root like any other).
        sources.sort { a, b in
            let x = volumes[p].slots[a], y = volumes[p].slots[b]
            // Holders that keep missing fetches sink below the rest, so every holder that
            // might answer is eventually asked.
            let xr = x.fetchMisses >= params.fetchMissesMax ? x.fetchMisses : 0
            let yr = y.fetchMisses >= params.fetchMissesMax ? y.fetchMisses : 0
            return (xr, x.failed ? 1 : 0, x.unhealthy ? 1 : 0, x.fetchMisses, a)
                < (yr, y.failed ? 1 : 0, y.unhealthy ? 1 : 0, y.fetchMisses, b)
        }
        let k = volumes[p].layout.k
        var want = k - volumes[p].fetchedMask.nonzeroBitCount
        guard want > 0 else { return }
        // Hedge: one extra source when any chosen one looks doubtful.
        if sources.prefix(want).contains(where: { volumes[p].slots[$0].unhealthy || volumes[p].slots[$0].failed }) { want += 1 }
        var asked: UInt64 = volumes[p].fetchedMask
        for s in sources.prefix(want) {
            let request = nextRequest
            nextRequest += 1
            volumes[p].fetchRequests[request] = s
            asked |= 1 << UInt64(s)
            actions.append(.send(to: volumes[p].slots[s].holder!, .fetch(
                request: request, slot: SlotID(volume: volumes[p].id, index: UInt8(s)))))
        }
        // Too few promising slots (holders that answer and did not fail a challenge): ask
        // holders still in their grace period for the shards no asked slot supplies.
        let promising = sources.prefix(want).count { s in
            volumes[p].slots[s].fetchMisses < params.fetchMissesMax && !volumes[p].slots[s].failed
        }
        if promising < k - volumes[p].fetchedMask.nonzeroBitCount {
            for g in graceSources(volume: p, now: now) where asked & (1 << UInt64(g.index)) == 0 {
                let request = nextRequest
                nextRequest += 1
                volumes[p].graceRequests[request] = g
                asked |= 1 << UInt64(g.index)
                actions.append(.send(to: g.holder, .fetch(request: request, slot: SlotID(volume: volumes[p].id, index: g.index))))
            }
        }
        // Shards stream behind whatever else the holders send: allow for a few transfers.
        volumes[p].fetchDeadline = now + params.repairTimeout + transferTime(bytes: UInt64(k) * volumes[p].slotBytes)
        volumes[p].fetchSent = now
    }

    /// The slot that streamed in behind fetch reply `request` was checked against what its
    /// holder was given (`verified`): only then does it count for a rebuild. A holder that
    /// sent something else proved it does not have the slot, as a failed challenge does.
    public mutating func onSlotVerified(request: UInt64, slot: SlotID, from: NodeID, bytes: UInt64, verified: Bool,
                                        now: Instant) -> [NodeAction]
    {
        var actions = [NodeAction]()
        if blindRepairs[slot.volume]?.fetchRequests[request] != nil {
            onBlindRepairFetched(request: request, shard: slot, ok: verified, bytes: bytes, from: from, now: now, into: &actions)
            return actions
        }
        guard let p = volumeIndex[slot.volume] else { return actions }
        if let g = volumes[p].graceRequests[request] {
            guard g.holder == from, g.index == slot.index else { return actions }
            volumes[p].graceRequests[request] = nil
            if verified {
                onShardFetched(volume: p, index: Int(g.index), packs: g.extent.packs, bytes: bytes, now: now, into: &actions)
            } else {
                // Its grace audit judges the broken promise; here it is only not asked again.
                volumes[p].graceRefused.append(from)
                plan(volume: p, now: now, into: &actions)
            }
            return actions
        }
        guard let s = volumes[p].fetchRequests[request], Int(slot.index) == s, volumes[p].slots[s].holder == from
        else { return actions }
        volumes[p].fetchRequests[request] = nil
        if verified {
            volumes[p].slots[s].fetchMisses = 0
            onShardFetched(volume: p, index: s, packs: volumes[p].slots[s].stored.packs, bytes: bytes, now: now, into: &actions)
        } else {
            giveUpSource(volume: p, slot: s, holder: from, fault: .badProof, now: now, into: &actions)
        }
        return actions
    }

    /// Slot `s`'s holder cannot supply it (it said so, or sent something else): never ask
    /// it again, report it once, and fetch from others.
    mutating func giveUpSource(volume p: Int, slot s: Int, holder: NodeID, fault: FaultKind, now: Instant,
                               into actions: inout [NodeAction])
    {
        let reported = volumes[p].slots[s].failed
        volumes[p].slots[s].proof = .empty
        if !reported {
            markFailed(volume: p, slot: s, holder: holder, fault: fault, now: now, into: &actions)
        }
        volumes[p].fetchDeadline = nil
        volumes[p].fetchRequests = [:]
        volumes[p].graceRequests = [:]
        if needsData(p) { startFetch(volume: p, now: now, into: &actions) }
    }

    /// Shard `index` of volume `p` arrived for a rebuild; with k of them the waiting
    /// replacements are stored.
    mutating func onShardFetched(volume p: Int, index: Int, packs: UInt32, bytes: UInt64, now: Instant,
                                 into actions: inout [NodeAction])
    {
        volumes[p].fetchedMask |= 1 << UInt64(index)
        volumes[p].fetchedPacks = min(volumes[p].fetchedPacks, packs)
        actions.append(.note(.repairBytes(bytes)))
        guard haveData(p) else { return }
        volumes[p].fetchRequests = [:]
        volumes[p].graceRequests = [:]
        volumes[p].fetchDeadline = nil
        for t in volumes[p].slots.indices where volumes[p].slots[t].pending == .accepted {
            sendStore(volume: p, slot: t, now: now, into: &actions)
        }
        for t in volumes[p].slots.indices { sendAppend(volume: p, slot: t, now: now, into: &actions) }
    }

    /// Re-plans one volume after fresh health information.
    mutating func plan(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        guard !volumes[p].lost else { return }
        let dataAtHand = haveData(p) || volumes[p].slots.contains { $0.holder == nil }
        // The slots' healths on the stack: this runs for every volume on every uptime reply.
        let n = volumes[p].slots.count
        var extra = 0
        var decision = RepairPlanner.Decision.keep
        for attempt in 0..<2 {
            decision = withUnsafeTemporaryAllocation(of: RepairPlanner.Health.self, capacity: n) { health in
                for s in 0..<n { health.initializeElement(at: s, to: volumes[p].slots[s].health) }
                return RepairPlanner.decide(UnsafeBufferPointer(health), k: volumes[p].layout.k,
                                            trigger: params.repairTrigger(for: volumes[p].layout),
                                            haveData: dataAtHand, extraSources: extra)
            }
            // Before giving a volume up, count the shards fetched already and those holders in
            // their grace period still keep (rare: only then are the audits scanned).
            guard attempt == 0, decision == .lost else { break }
            extra = extraSources(volume: p, now: now)
            if extra == 0 { break }
        }
        switch decision {
        case .keep:
            break
        case .lost:
            // Cut off from the coordinator, this owner cannot know what was repaired blind
            // on its behalf meanwhile (it counts as away there): it decides when it hears
            // from the coordinator again, which re-plans every volume and offers those
            // repairs for adoption first. (Giving up while cut off, an owner whose clock
            // drifted past the bound declared volumes lost with k shards on blind repairs'
            // holders: random scenario 190, `--long`.)
            guard hearsCoordinator(now: now) else { break }
            volumes[p].lost = true
            actions.append(.note(.volumeLost(volumes[p].id)))
        case .repair(let slots):
            if !volumes[p].repairing {
                volumes[p].repairing = true
                if !volumes[p].localCopy { actions.append(.note(.repairStarted(volumes[p].id, shards: slots.count))) }
            }
            requestMatch(volume: p, now: now, into: &actions)
        }
    }

    /// Heard from the coordinator within `cutOffAfter`: this node sends it an uptime query
    /// on every repair tick, answered at once, so silence over three ticks means it is cut
    /// off (a lost reply or two only delays a decision).
    func hearsCoordinator(now: Instant) -> Bool {
        coordinatorHeard.map { now - $0 <= cutOffAfter } ?? false
    }

    var cutOffAfter: Interval { params.repairInterval * 3 }

    /// The coordinator's record of every volume this node owns (placed anywhere), as
    /// after each placement: what a coordinator that lost its directory needs to tell a
    /// restore where the shards are.
    public func announceVolumes() -> [NodeAction] {
        volumes.indices.filter { p in !volumes[p].lost && volumes[p].slots.contains { $0.holder != nil } }.map(rootRecord(volume:))
    }

    func rootRecord(volume p: Int) -> NodeAction {
        .send(to: .coordinator, .rootRecord(VolumeLocation(
            volume: volumes[p].id, layout: volumes[p].layout, holders: volumes[p].slots.map { $0.holder ?? .coordinator },
            stored: volumes[p].slots.map { $0.holder == nil ? 0 : $0.stored.packs }, roots: volumes[p].roots)))
    }

    func contractStart(volume p: Int, slot s: Int) -> Instant {
        volumes[p].slots[s].contract.flatMap { book.owned[$0]?.terms.start } ?? Instant.zero
    }

    mutating func markFailed(volume p: Int, slot s: Int, holder: NodeID, fault: FaultKind, now: Instant,
                             into actions: inout [NodeAction])
    {
        if volumes[p].slots[s].proof == .none { volumes[p].slots[s].proof = .failed }
        actions.append(.send(to: .coordinator, .report(holder: holder, fault: fault, since: contractStart(volume: p, slot: s))))
        actions.append(.note(.fault(holder: holder, fault)))
        if let contract = volumes[p].slots[s].contract { actions.append(.note(.contractBroken(contract))) }
        plan(volume: p, now: now, into: &actions)
    }


    mutating func onVerdict(_ verdict: ChallengeScheduler.Verdict, now: Instant, into actions: inout [NodeAction]) {
        switch verdict {
        case .stale, .pass:
            break
        case let .fail(o, fault):
            if o.audit {
                let since = book.owned[o.contract]?.terms.start ?? now
                audits[o.contract] = nil
                book.drop(ownedID: o.contract)
                actions.append(.send(to: .coordinator, .report(holder: o.holder, fault: fault, since: since)))
                actions.append(.note(.fault(holder: o.holder, fault)))
                return
            }
            guard let ref = slotOfContract[o.contract], case (let p, let s) = (ref.volume, ref.slot), volumes[p].slots[s].contract == o.contract,
                  !volumes[p].slots[s].failed
            else { return }
            if fault == .missing { volumes[p].slots[s].proof = .empty }
            markFailed(volume: p, slot: s, holder: o.holder, fault: fault, now: now, into: &actions)
        }
    }
}
