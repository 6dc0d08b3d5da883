import CairnWire

/// The owner's release ledger: contracts it let go (replaced, abandoned in flight, or not
/// yet acknowledged), whose holders owe the grace period — audited, and the owner's last
/// resort for a shard no slot supplies.
extension NodeCore {
    mutating func abandon(volume p: Int, slot s: Int, contract: ContractID, holder: NodeID, now: Instant,
                          into actions: inout [NodeAction])
    {
        let terms = book.owned[contract]?.terms
        let keptUntil = book.owned[contract]?.keptUntil
        let releasedAt = terms.map { min(now, $0.end) } ?? now
        if volumes[p].slots[s].pending == .storing, let terms {
            unconfirmed[contract] = GraceDebt(holder: holder, shard: terms.shard, extent: volumes[p].slots[s].pendingExtent,
                                              until: releasedAt + terms.grace)
        }
        _ = book.release(ownedID: contract, now: now)
        book.drop(ownedID: contract)
        slotOfContract[contract] = nil
        // A renewal in place nobody answered: the next one goes to another holder.
        if volumes[p].slots[s].holder == holder { volumes[p].slots[s].renewalRefused = true }
        // What the abandoned holder may have: the whole slot, if only its acknowledgement was lost.
        releasing[contract] = PendingRelease(holder: holder, shard: SlotID(volume: volumes[p].id, index: UInt8(s)),
                                             extent: volumes[p].slots[s].pendingExtent, at: releasedAt,
                                             retries: ProtocolLimits.releaseRetriesMax, end: terms?.end, keptUntil: keptUntil)
        actions.append(.send(to: holder, .release(contract: contract, at: releasedAt)))
        volumes[p].recentHolders.append(holder)
        clearPending(volume: p, slot: s)
    }

    /// Releases the contract of a slot whose shard now lives on a new holder. A holder
    /// released in good faith (not one that proved it lost the shard) owes its grace period:
    /// that promise is audited, and until it ends the holder is a last-resort source for
    /// the shard (`graceSources`).
    mutating func releaseReplaced(volume p: Int, slot s: Int, contract old: ContractID, holder oldHolder: NodeID,
                                  now: Instant, into actions: inout [NodeAction])
    {
        let oldFailed = volumes[p].slots[s].failed
        let terms = book.owned[old]?.terms
        let keptUntil = book.owned[old]?.keptUntil
        let releasedAt = terms.map { min(now, $0.end) } ?? now
        if let released = book.release(ownedID: old, now: now), released.stored, !oldFailed,
           case .grace(let until) = released.state
        {
            audits[old] = GraceDebt(holder: oldHolder, shard: released.terms.shard, extent: volumes[p].slots[s].stored, until: until)
        } else {
            book.drop(ownedID: old)
        }
        slotOfContract[old] = nil
        releasing[old] = PendingRelease(holder: oldHolder, shard: SlotID(volume: volumes[p].id, index: UInt8(s)),
                                        extent: volumes[p].slots[s].stored, at: releasedAt,
                                        retries: ProtocolLimits.releaseRetriesMax, end: terms?.end, keptUntil: keptUntil)
        volumes[p].recentHolders.append(oldHolder)
        actions.append(.send(to: oldHolder, .release(contract: old, at: releasedAt)))
    }

    /// Lets go of the slots whose contract's term is over without a renewal (no holder
    /// could be found in time, or the owner was away): the holder moved the contract into
    /// grace by itself and frees the shard when the grace ends, so the owner stops
    /// expecting it there, and never challenges, fetches or reports a shard the holder no
    /// longer owes (random scenario 858: honest holders were struck for freeing shards
    /// past their grace, and the strikes excluded a third of the network). Released in good
    /// faith, the holder is audited and a last-resort source until its grace ends, and the
    /// empty slot is matched again.
    mutating func lapseEndedContracts(volume p: Int, now: Instant, into actions: inout [NodeAction]) {
        var lapsed = false
        for s in volumes[p].slots.indices {
            guard let end = volumes[p].slots[s].contractEnd, end <= now, let old = volumes[p].slots[s].contract,
                  let holder = volumes[p].slots[s].holder
            else { continue }
            // A renewal in place still unanswered goes with the contract it was to renew.
            if let pending = volumes[p].slots[s].pendingContract, volumes[p].slots[s].pendingHolder == holder {
                abandon(volume: p, slot: s, contract: pending, holder: holder, now: now, into: &actions)
            }
            releaseReplaced(volume: p, slot: s, contract: old, holder: holder, now: now, into: &actions)
            let replacement = volumes[p].slots[s].replacement
            volumes[p].slots[s] = OwnedSlot()
            volumes[p].slots[s].replacement = replacement
            actions.append(.note(.contractLapsed(old)))
            lapsed = true
        }
        guard lapsed else { return }
        actions.append(rootRecord(volume: p))
        plan(volume: p, now: now, into: &actions)
    }

    /// Sends the releases not yet acknowledged that are due: on every repair tick while
    /// their quick retries last, then at doubling intervals until the contract's term ends
    /// (`PendingRelease`). A release whose term end is unknown is forgotten after its retries.
    /// Past the term end nothing is sent (the holder moves the contract into grace by
    /// itself), and the release is forgotten once that grace is over too (`keptUntil`).
    mutating func resendReleases(now: Instant, into actions: inout [NodeAction]) {
        guard !resendPass.idle(ledger: releaseLedger, now: now) else { return }
        defer { resendPass = LedgerPass(ledger: releaseLedger, due: nextResend(after: now)) }
        for id in releasing.keys.sorted() {
            // Nearly every one waits out its backoff: looked at in place, neither copied
            // (a copy retains its contract's arrays) nor written back.
            guard let i = releasing.index(forKey: id) else { continue }
            if let end = releasing.values[i].end, now >= end {
                if let kept = releasing.values[i].keptUntil, now < kept { continue }
                releasing[id] = nil
                continue
            }
            if releasing.values[i].retries == 0, releasing.values[i].nextAt > now { continue }
            var r = releasing[id]!
            if r.retries > 0 {
                actions.append(.send(to: r.holder, .release(contract: id, at: r.at)))
                r.retries -= 1
                if r.retries == 0 {
                    guard r.end != nil else {
                        releasing[id] = nil
                        continue
                    }
                    r.backoff = params.repairInterval * 2
                    r.nextAt = now + r.backoff
                }
            } else if r.nextAt <= now {
                actions.append(.send(to: r.holder, .release(contract: id, at: r.at)))
                r.backoff = min(r.backoff * 2, PendingRelease.backoffMax)
                r.nextAt = now + r.backoff
            }
            releasing[id] = r
        }
    }

    /// The first instant after `now` at which some pending release is due to be sent or
    /// forgotten (no later than it: a release still retrying is due at the next tick).
    private func nextResend(after now: Instant) -> Instant? {
        var due: Instant? = nil
        for i in releasing.indices {
            var d = releasing.values[i].retries > 0 ? now : releasing.values[i].nextAt
            if let end = releasing.values[i].end { d = min(d, releasing.values[i].keptUntil ?? end) }
            due = min(due ?? d, d)
        }
        return due
    }

    /// A released holder is kept off its volume only while it may still keep a shard of it:
    /// during its grace period, or while its release is unacknowledged. Kept for good, the
    /// list would grow with every replacement and, in a small network, end by excluding every
    /// node a repair could use.
    mutating func forgetReleasedHolders(now: Instant) {
        // With the same ledger, only a debt whose grace ends can let a holder go: the last
        // pass left every list as this one would until the first such end.
        guard !forgetPass.idle(ledger: releaseLedger, now: now) else { return }
        var due: Instant? = nil
        var owing = [(VolumeID, NodeID)]()
        for debt in [audits, unconfirmed] {
            for d in debt.values where d.until > now {
                due = min(due ?? d.until, d.until)
                owing.append((d.shard.volume, d.holder))
            }
        }
        forgetPass = LedgerPass(ledger: releaseLedger, due: due)
        guard volumes.indices.contains(where: { !volumes[$0].recentHolders.isEmpty }) else { return }
        for r in releasing.values { owing.append((r.shard.volume, r.holder)) }
        for p in volumes.indices where !volumes[p].recentHolders.isEmpty {
            let id = volumes[p].id
            volumes[p].recentHolders.removeAll { h in !owing.contains { $0.0 == id && $0.1 == h } }
        }
    }

    /// Holders released in good faith whose grace period has not ended, for volume `p`, in
    /// contract order, one per shard index (those that said they lost it left out).
    func graceSources(volume p: Int, now: Instant) -> [GraceSource] {
        var out = [GraceSource]()
        var seen: UInt64 = 0
        func consider(_ holder: NodeID, _ shard: SlotID, _ extent: SlotExtent, _ until: Instant) {
            guard shard.volume == volumes[p].id, until > now, seen & (1 << UInt64(shard.index)) == 0,
                  !volumes[p].graceRefused.contains(holder)
            else { return }
            seen |= 1 << UInt64(shard.index)
            out.append(GraceSource(index: shard.index, holder: holder, extent: extent))
        }
        for id in audits.keys.sorted() {
            let a = audits[id]!
            consider(a.holder, a.shard, a.extent, a.until)
        }
        for id in unconfirmed.keys.sorted() {
            let u = unconfirmed[id]!
            consider(u.holder, u.shard, u.extent, u.until)
        }
        for id in releasing.keys.sorted() {
            let r = releasing[id]!
            // Before its term end the holder may keep an active copy; past it, until its
            // grace from the term end is over (the release may never have reached it).
            let until = (r.end.map { now < $0 } ?? true) ? Instant(milliseconds: Int64.max) : (r.keptUntil ?? now)
            consider(r.holder, r.shard, r.extent, until)
        }
        return out
    }

    /// Shard indices of volume `p` that no fetchable slot supplies but that were fetched
    /// already or can be fetched from a holder in its grace period.
    func extraSources(volume p: Int, now: Instant) -> Int {
        var covered: UInt64 = 0
        for s in volumes[p].slots.indices {
            let h = volumes[p].slots[s].health
            if h == .healthy || h == .unhealthy { covered |= 1 << UInt64(s) }
        }
        var extra = volumes[p].fetchedMask & ~covered
        for g in graceSources(volume: p, now: now) { extra |= (1 << UInt64(g.index)) & ~covered }
        return extra.nonzeroBitCount
    }
}
