import CairnWire

/// Owner side of the node core: placement, uptime-driven repair, fetches for rebuilds,
/// the grace sources of last resort, and the verdicts of challenges.
extension NodeCore {
    mutating func expirePending(pack p: Int, now: Instant, into actions: inout [Action]) {
        if let asked = packs[p].matchRequested, now - asked >= params.repairTimeout {
            packs[p].matchRequested = nil
        }
        for s in packs[p].slots.indices {
            // Read in place (a copied slot would retain and release its pending key).
            guard let pending = packs[p].slots[s].pending else { continue }
            // An upload waits behind the others on this node's link: allow for the backlog.
            let timeout = pending == .storing ? params.repairTimeout + uploadBacklog : params.repairTimeout
            guard now - packs[p].slots[s].pendingSince >= timeout,
                  let contract = packs[p].slots[s].pendingContract, let holder = packs[p].slots[s].pendingHolder
            else { continue }
            abandon(pack: p, slot: s, contract: contract, holder: holder, now: now, into: &actions)
        }
        if let deadline = packs[p].fetchDeadline, deadline <= now {
            for request in packs[p].fetchRequests.keys.sorted() {
                let s = packs[p].fetchRequests[request]!
                packs[p].slots[s].fetchMisses += 1
                if packs[p].slots[s].fetchMisses >= params.fetchMissesMax, let h = packs[p].slots[s].holder,
                   !packs[p].slots[s].unhealthy
                {
                    packs[p].slots[s].unhealthy = true
                    actions.append(.send(to: .coordinator, .report(holder: h, fault: .refusedFetch,
                                                                           since: contractStart(pack: p, slot: s))))
                    actions.append(.note(.fault(holder: h, .refusedFetch)))
                }
            }
            packs[p].fetchRequests = [:]
            packs[p].graceRequests = [:]
            packs[p].fetchDeadline = nil
            if needsData(p) { startFetch(pack: p, now: now, into: &actions) }
        }
    }

    /// How long `bytes` take on this node's uplink (`speed` is in kbit/s).
    func transferTime(bytes: UInt64) -> Interval {
        Interval(milliseconds: Int64(min(bytes * 8 / UInt64(max(speed, 1)), UInt64(Int64.max / 2))))
    }

    mutating func clearPending(pack p: Int, slot s: Int) {
        packs[p].slots[s].pending = nil
        packs[p].slots[s].pendingHolder = nil
        packs[p].slots[s].pendingContract = nil
        packs[p].slots[s].pendingKey = []
    }

    // MARK: Placement and repair (owner side)

    func slotNeedsReplacement(_ slot: OwnedSlot) -> Bool {
        slot.pending == nil && (slot.holder == nil || slot.failed || slot.unhealthy)
    }

    func haveData(_ p: Int) -> Bool {
        packs[p].localCopy || packs[p].fetchedMask.nonzeroBitCount >= packs[p].geometry.k
    }

    /// Some accepted replacement waits for data that is not at hand.
    func needsData(_ p: Int) -> Bool {
        !haveData(p) && packs[p].slots.contains { $0.pending == .accepted }
    }

    /// Asks the coordinator for holders for every slot of the pack that the planner says
    /// to re-create (all empty slots during the initial upload).
    mutating func requestMatch(pack p: Int, now: Instant, into actions: inout [Action]) {
        guard packs[p].matchRequested == nil, !packs[p].lost else { return }
        let count = packs[p].slots.count { slotNeedsReplacement($0) && ($0.holder == nil || packs[p].repairing) }
        guard count > 0, book.canPlace(bytes: packs[p].shardBytes) else { return }
        var exclude = packs[p].recentHolders
        for slot in packs[p].slots {
            if let h = slot.holder { exclude.append(h) }
            if let h = slot.pendingHolder { exclude.append(h) }
        }
        exclude.sort()
        let request = nextRequest
        nextRequest += 1
        pendingMatches[request] = p
        packs[p].matchRequested = now
        actions.append(.send(to: .coordinator, .matchRequest(
            request: request, pack: packs[p].id, shardBytes: packs[p].shardBytes, count: UInt8(count), speed: speed,
            exclude: exclude)))
    }

    mutating func onMatchReply(request: UInt64, candidates: [Candidate], now: Instant, into actions: inout [Action]) {
        guard let p = pendingMatches.removeValue(forKey: request) else { return }
        packs[p].matchRequested = nil
        guard !packs[p].lost else { return }
        var next = 0
        for s in packs[p].slots.indices {
            let slot = packs[p].slots[s]
            guard slotNeedsReplacement(slot), slot.holder == nil || packs[p].repairing else { continue }
            guard book.canPlace(bytes: packs[p].shardBytes) else { break }
            // The next candidate not already holding (or about to hold) a shard of this pack.
            var chosen: Candidate? = nil
            while next < candidates.count {
                let c = candidates[next]
                next += 1
                let taken = c.node == me || packs[p].recentHolders.contains(c.node)
                    || packs[p].slots.contains { $0.holder == c.node || $0.pendingHolder == c.node }
                if !taken {
                    chosen = c
                    break
                }
            }
            guard let candidate = chosen else { break }
            let contract = book.propose(holder: candidate.node, shard: ShardID(pack: packs[p].id, index: UInt8(s)),
                                        bytes: packs[p].shardBytes, now: now, term: params.term, grace: params.grace,
                                        signer: signer)
            slotOfContract[contract.terms.id] = SlotRef(pack: p, slot: s)
            packs[p].slots[s].pending = .proposing
            packs[p].slots[s].pendingHolder = candidate.node
            packs[p].slots[s].pendingContract = contract.terms.id
            packs[p].slots[s].pendingKey = candidate.publicKey
            packs[p].slots[s].pendingSince = now
            actions.append(.send(to: candidate.node, .propose(terms: contract.terms, ownerKey: signer.publicKey,
                                                             ownerSignature: contract.ownerSignature, mandate: nil)))
        }
    }

    mutating func sendStore(pack p: Int, slot s: Int, now: Instant, into actions: inout [Action]) {
        guard let contract = packs[p].slots[s].pendingContract, let holder = packs[p].slots[s].pendingHolder else { return }
        packs[p].slots[s].pending = .storing
        packs[p].slots[s].pendingSince = now
        let bytes = packs[p].shardBytes
        if !packs[p].localCopy { actions.append(.note(.repairBytes(bytes))) }
        actions.append(.send(to: holder, .storeShard(
            contract: contract, shard: ShardID(pack: packs[p].id, index: UInt8(s)), geometry: packs[p].geometry,
            root: packs[p].roots[s])))
    }

    /// Asks k fetchable holders (healthy first, fewest misses first) for their shards.
    mutating func startFetch(pack p: Int, now: Instant, into actions: inout [Action]) {
        guard packs[p].fetchDeadline == nil else { return }
        var sources = packs[p].slots.indices.filter { s in
            let slot = packs[p].slots[s]
            return slot.holder != nil && !slot.noData && packs[p].fetchedMask & (1 << UInt64(s)) == 0
        }
        // Healthy holders first; holders that failed a challenge only as a last resort (a
        // fetched shard is checked against its root like any other).
        sources.sort { a, b in
            let x = packs[p].slots[a], y = packs[p].slots[b]
            // Holders that keep missing fetches sink below the rest, so every holder that
            // might answer is eventually asked.
            let xr = x.fetchMisses >= params.fetchMissesMax ? x.fetchMisses : 0
            let yr = y.fetchMisses >= params.fetchMissesMax ? y.fetchMisses : 0
            return (xr, x.failed ? 1 : 0, x.unhealthy ? 1 : 0, x.fetchMisses, a)
                < (yr, y.failed ? 1 : 0, y.unhealthy ? 1 : 0, y.fetchMisses, b)
        }
        let k = packs[p].geometry.k
        var want = k - packs[p].fetchedMask.nonzeroBitCount
        guard want > 0 else { return }
        // Hedge: one extra source when any chosen one looks doubtful.
        if sources.prefix(want).contains(where: { packs[p].slots[$0].unhealthy || packs[p].slots[$0].failed }) { want += 1 }
        var asked: UInt64 = packs[p].fetchedMask
        for s in sources.prefix(want) {
            let request = nextRequest
            nextRequest += 1
            packs[p].fetchRequests[request] = s
            asked |= 1 << UInt64(s)
            actions.append(.send(to: packs[p].slots[s].holder!, .fetch(
                request: request, shard: ShardID(pack: packs[p].id, index: UInt8(s)))))
        }
        // Too few promising slots (holders that answer and did not fail a challenge): ask
        // holders still in their grace period for the shards no asked slot supplies.
        let promising = sources.prefix(want).count { s in
            packs[p].slots[s].fetchMisses < params.fetchMissesMax && !packs[p].slots[s].failed
        }
        if promising < k - packs[p].fetchedMask.nonzeroBitCount {
            for g in graceSources(pack: p, now: now) where asked & (1 << UInt64(g.index)) == 0 {
                let request = nextRequest
                nextRequest += 1
                packs[p].graceRequests[request] = g
                asked |= 1 << UInt64(g.index)
                actions.append(.send(to: g.holder, .fetch(request: request, shard: ShardID(pack: packs[p].id, index: g.index))))
            }
        }
        // Shards stream behind whatever else the holders send: allow for a few transfers.
        packs[p].fetchDeadline = now + params.repairTimeout + transferTime(bytes: UInt64(k) * packs[p].shardBytes)
    }

    /// Shard `index` of pack `p` arrived for a rebuild; with k of them the waiting
    /// replacements are stored.
    mutating func onShardFetched(pack p: Int, index: Int, bytes: UInt64, now: Instant,
                                 into actions: inout [Action])
    {
        packs[p].fetchedMask |= 1 << UInt64(index)
        actions.append(.note(.repairBytes(bytes)))
        guard haveData(p) else { return }
        packs[p].fetchRequests = [:]
        packs[p].graceRequests = [:]
        packs[p].fetchDeadline = nil
        for t in packs[p].slots.indices where packs[p].slots[t].pending == .accepted {
            sendStore(pack: p, slot: t, now: now, into: &actions)
        }
    }

    /// Re-plans one pack after fresh health information.
    mutating func plan(pack p: Int, now: Instant, into actions: inout [Action]) {
        guard !packs[p].lost else { return }
        let dataAtHand = haveData(p) || packs[p].slots.contains { $0.holder == nil }
        // The slots' healths on the stack: this runs for every pack on every uptime reply.
        let n = packs[p].slots.count
        var extra = 0
        var decision = RepairPlanner.Decision.keep
        for attempt in 0..<2 {
            decision = withUnsafeTemporaryAllocation(of: RepairPlanner.Health.self, capacity: n) { health in
                for s in 0..<n { health.initializeElement(at: s, to: packs[p].slots[s].health) }
                return RepairPlanner.decide(UnsafeBufferPointer(health), k: packs[p].geometry.k,
                                            trigger: params.repairTrigger(for: packs[p].geometry),
                                            haveData: dataAtHand, extraSources: extra)
            }
            // Before giving a pack up, count the shards fetched already and those holders in
            // their grace period still keep (rare: only then are the audits scanned).
            guard attempt == 0, decision == .lost else { break }
            extra = extraSources(pack: p, now: now)
            if extra == 0 { break }
        }
        switch decision {
        case .keep:
            break
        case .lost:
            packs[p].lost = true
            actions.append(.note(.packLost(packs[p].id)))
        case .repair(let slots):
            if !packs[p].repairing {
                packs[p].repairing = true
                if !packs[p].localCopy { actions.append(.note(.repairStarted(packs[p].id, shards: slots.count))) }
            }
            requestMatch(pack: p, now: now, into: &actions)
        }
    }

    func rootRecord(pack p: Int) -> Action {
        .send(to: .coordinator, .rootRecord(PackLocation(pack: packs[p].id, geometry: packs[p].geometry,
                                                         holders: packs[p].slots.map { $0.holder ?? .coordinator },
                                                         roots: packs[p].roots)))
    }

    func contractStart(pack p: Int, slot s: Int) -> Instant {
        packs[p].slots[s].contract.flatMap { book.owned[$0]?.terms.start } ?? Instant.zero
    }

    mutating func markFailed(pack p: Int, slot s: Int, holder: NodeID, fault: FaultKind, now: Instant,
                             into actions: inout [Action])
    {
        packs[p].slots[s].failed = true
        actions.append(.send(to: .coordinator, .report(holder: holder, fault: fault, since: contractStart(pack: p, slot: s))))
        actions.append(.note(.fault(holder: holder, fault)))
        if let contract = packs[p].slots[s].contract { actions.append(.note(.contractBroken(contract))) }
        plan(pack: p, now: now, into: &actions)
    }


    mutating func onVerdict(_ verdict: ChallengeScheduler.Verdict, now: Instant, into actions: inout [Action]) {
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
            guard let ref = slotOfContract[o.contract], case (let p, let s) = (ref.pack, ref.slot), packs[p].slots[s].contract == o.contract,
                  !packs[p].slots[s].failed
            else { return }
            if fault == .missing { packs[p].slots[s].noData = true }
            markFailed(pack: p, slot: s, holder: o.holder, fault: fault, now: now, into: &actions)
        }
    }
}
