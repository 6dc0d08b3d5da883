import CairnWire
import CairnCore
import CairnTestSupport
import Testing

// The owner's repair paths on virtual time: every timer (challenges, repair ticks,
// heartbeats, the coordinator's uptime slots) fires at its deadline through
// `Harness.run(until:)`, so these follow the path a running network takes.

private let owner = NodeID(0)

/// Shards the owner asked for (`.fetch`) in `deliveries`: who was asked for which slot.
private func fetches(_ deliveries: ArraySlice<Harness.Network.Delivery>, by asker: NodeID = owner)
    -> [(holder: NodeID, slot: UInt8)]
{
    deliveries.compactMap { d in
        if d.from == asker, case let .fetch(_, slot) = d.message { (d.to, slot.index) } else { nil }
    }
}

/// Releases of `contract` sent by the owner, with their instants.
private func releases(_ h: Harness, of contract: ContractID) -> [Instant] {
    h.history.compactMap { d in
        if d.from == owner, case let .release(c, _) = d.message, c == contract { d.at } else { nil }
    }
}

/// The holder of each slot of the owner's first volume.
private func holders(_ h: Harness) -> [NodeID?] { h.nodes[0].volumes[0].slots.map(\.holder) }

/// Damages every segment of every pack of `slot` on `holder` (bit rot on its disk).
private func corrupt(_ h: inout Harness, _ slot: SlotID, on holder: NodeID) {
    h.disks[holder.index][slot] = h.disks[holder.index][slot]!.map { pack in pack.map { seg in seg.map { $0 ^ 0xff } } }
}

// MARK: A failed challenge, rebuilt from k fetched slots

/// The owner no longer has the volume (every slot was placed, its local copies went). A
/// holder whose disk rotted fails its daily challenge with a bad proof: the owner reports
/// it, fetches exactly k shards from holders that passed, and stores the rebuilt slot on
/// a new holder; the failed holder is released without a grace audit (it owes nothing).
@Test func aHolderThatFailsAChallengeIsReplacedFromKFetchedSlots() throws {
    var h = Harness(count: 8)
    let volume = h.addVolume(3, packs: 3)
    h.start()
    #expect(h.nodes[0].volumes[0].localCopy == false && h.notes.contains { $0.1 == .placed(volume, packs: 3) })
    let before = holders(h).map { $0! }
    let bad = before[1]
    let shard = SlotID(volume: volume, index: 1)
    let broken = try #require(h.nodes[0].volumes[0].slots[1].contract)
    corrupt(&h, shard, on: bad)
    let start = h.history.count
    h.run(for: .days(1) + .hours(1))

    // The challenge came from the timer, failed on its proof, and was reported once.
    #expect(h.notes.filter { $0.0 == owner && $0.1 == .fault(holder: bad, .badProof) }.count == 1)
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .contractBroken(broken) })
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: bad, .badProof) })
    #expect(h.coordinator.entry(bad)?.reputation.strikes == 1)
    // Exactly k shards fetched, each from the holder of that slot, none from the failed one.
    let asked = fetches(h.history[start...])
    #expect(asked.count == 2)
    #expect(asked.allSatisfy { $0.holder != bad && $0.slot != 1 && before[Int($0.slot)] == $0.holder })
    // Two fetched slots of 3 × 16 bytes, then the rebuilt slot uploaded.
    #expect(h.notes.filter { $0.0 == owner && $0.1 == .repairBytes(48) }.count == 3)
    // Slot 1 lives on a node that held nothing of the volume, with every pack; the others stay.
    let after = holders(h)
    let new = try #require(after[1])
    #expect(!before.contains(new) && new != owner)
    #expect([after[0], after[2], after[3]] == [before[0], before[2], before[3]])
    #expect(h.nodes[0].volumes[0].slots[1].stored.packs == 3)
    #expect(h.disks[new.index][shard]?.count == 3)
    #expect(h.nodes[new.index].book.heldContract(for: shard)?.state == .active)
    #expect(h.coordinator.rootRecords[volume]?.holders == after.map { $0! })
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .repairStarted(volume, shards: 1) })
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .repairCompleted(volume) })
    // The failed holder is told to let go, and is not audited through a grace period.
    #expect(releases(h, of: broken).count == 1)
    #expect(h.nodes[0].auditCount == 0 && h.nodes[0].ownedContract(broken) == nil)
}

// MARK: A refused fetch

/// Two holders lost their shards, so the rebuild needs both others; one of them opens the
/// slot for every fetch and never answers. Each unanswered fetch is a miss counted at its
/// deadline; only at the `fetchMissesMax`-th is the holder reported (once) as refusing,
/// and the coordinator counts it against a node that is up.
@Test func aHolderThatNeverAnswersFetchesIsReportedAfterFetchMissesMax() throws {
    var h = Harness(count: 8)
    let volume = h.addVolume(1, packs: 2)
    h.start()
    let before = holders(h).map { $0! }
    let refuser = before[0]
    for s in [1, 2] { h.disks[before[s].index][SlotID(volume: volume, index: UInt8(s))] = nil }
    h.silentOnFetch = [refuser]
    h.run(for: .days(4))

    let misses = h.nodes[0].params.fetchMissesMax
    #expect(misses == 2)
    let reports = h.history.enumerated().filter { _, d in
        if d.from == owner, d.to == .coordinator, case .report(refuser, .refusedFetch, _) = d.message { true } else { false }
    }
    #expect(reports.count == 1)
    let reported = try #require(reports.first)
    // Asked `fetchMissesMax` times before the report, each ask given its deadline.
    let askedBefore = h.history[..<reported.offset].filter { d in
        d.from == owner && d.to == refuser && { if case .fetch = d.message { true } else { false } }()
    }
    #expect(askedBefore.count == misses)
    #expect(reported.element.at - askedBefore.last!.at >= h.nodes[0].params.repairTimeout)
    // The report names when the missed fetch was sent: the coordinator checks the holder's
    // session spans it.
    #expect(reported.element.message == .report(holder: refuser, fault: .refusedFetch, since: askedBefore.last!.at))
    #expect(h.notes.filter { $0.0 == owner && $0.1 == .fault(holder: refuser, .refusedFetch) }.count == 1)
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: refuser, .refusedFetch) })
    #expect(h.coordinator.entry(refuser)?.reputation.strikes == 1)
    // The holder that answered was asked, and nobody asked the two that lost their shards
    // after they said so.
    #expect(fetches(h.history[...]).contains { $0 == (before[3], 3) })
    #expect(!fetches(h.history[...]).contains { $0.holder == before[1] || $0.holder == before[2] })
}

/// Replies to a fetch sent before the owner's current session went to a node that was
/// away (they were lost with its session): that round counts no miss against anyone. Here
/// the owner goes down right after each of two fetch rounds and comes back past their
/// deadlines; counted, those would be `fetchMissesMax` misses and a refused-fetch report
/// against both honest holders (under harsh churn, an owner's own short sessions struck
/// holders that had answered). The round sent after it is back rebuilds the slots.
@Test func fetchRoundsTheOwnerWasAwayForCountNoMiss() throws {
    var h = Harness(count: 8)
    let volume = h.addVolume(1, packs: 2)
    h.start()
    let before = holders(h).map { $0! }
    for s in [1, 2] { h.disks[before[s].index][SlotID(volume: volume, index: UInt8(s))] = nil }
    let params = h.nodes[0].params
    for round in 1...params.fetchMissesMax {
        // Run until the owner asks for shards; the answers find it gone (lost with its
        // session), and it is away past the round's deadline.
        h.lose = { _, to, message in
            if to == owner, case .fetchReply = message { true } else { false }
        }
        var waited = 0
        while fetches(h.history[...]).count < 2 * round {
            h.run(for: .minutes(10))
            waited += 1
            try #require(waited < 1000, "the owner never fetched")
        }
        h.offline.insert(owner)
        h.run(for: params.repairTimeout + .hours(1))
        if round == params.fetchMissesMax { h.lose = { _, _, _ in false } }
        h.bringBack(owner)
    }
    #expect(fetches(h.history[...]).count == 2 * params.fetchMissesMax)
    h.run(for: .days(2))
    #expect(!h.history.contains { d in
        if d.from == owner, case .report(_, .refusedFetch, _) = d.message { true } else { false }
    })
    #expect(!h.notes.contains { $0.0 == owner && { if case .fault(_, .refusedFetch) = $0.1 { true } else { false } }($0) })
    #expect(h.nodes[0].volumes[0].slots.allSatisfy { $0.fetchMisses == 0 })
    // Rebuilt from the two holders that kept their shards, once the owner stayed.
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .repairCompleted(volume) })
    #expect(h.coordinator.entry(before[0])?.reputation.strikes == 0)
    #expect(h.coordinator.entry(before[3])?.reputation.strikes == 0)
}

// MARK: An abandoned replacement as a last resort

/// Remembers the first acknowledgement a node other than `placed` sends the owner, and
/// loses it and every later one from that node while `active`.
private final class LoseFirstReplacementsAck {
    let placed: Set<NodeID>
    var victim: NodeID? = nil
    var active = true
    init(placed: [NodeID]) { self.placed = Set(placed) }
    func loses(_ from: NodeID, _ to: NodeID, _ message: Message) -> Bool {
        guard active, to == owner, case .storeAck = message, !placed.contains(from) else { return false }
        if victim == nil { victim = from }
        return victim == from
    }
}

/// A replacement stored the slot but its acknowledgement was lost, so the owner gives it up
/// at the repair timeout and releases it; the holder keeps the slot for its grace period.
/// Later, when the volume's own slots can no longer supply k shards, that holder is asked
/// for it as a last resort and the rebuild goes through with its shard.
@Test func anAbandonedReplacementIsALastResortSourceDuringItsGrace() throws {
    var h = Harness(count: 8)
    let late = NodeID(7)
    h.offline = [late]
    let volume = h.addVolume(4, packs: 2)
    h.start()
    let before = holders(h).map { $0! }
    let slot3 = SlotID(volume: volume, index: 3)
    // Slot 3's holder loses its shard; the first replacement's acknowledgement is lost.
    h.disks[before[3].index][slot3] = nil
    let loss = LoseFirstReplacementsAck(placed: before)
    h.lose = loss.loses
    h.run(for: .days(2))
    let abandoned = try #require(loss.victim)
    loss.active = false
    #expect(h.disks[abandoned.index][slot3]?.count == 2)
    let abandonedContract = try #require(h.nodes[abandoned.index].book.heldContract(for: slot3))
    #expect(releases(h, of: abandonedContract.terms.id).count == 1)
    guard case .grace(let graceUntil) = abandonedContract.state else {
        Issue.record("the abandoned holder is not in its grace period: \(abandonedContract.state)")
        return
    }
    #expect(h.notes.contains { $0.0 == abandoned && $0.1 == .released(slot3, graceUntil: graceUntil) })
    // Slot 3 went to another node; the volume was whole again, so nothing was fetched from
    // the abandoned holder.
    let replaced = try #require(holders(h)[3])
    #expect(replaced != abandoned && !before.contains(replaced))
    #expect(h.notes.contains { $0.1 == .repairCompleted(volume) })
    #expect(!fetches(h.history[...]).contains { $0.holder == abandoned })

    // Now three holders lose their shards at once and a new node joins: the one slot left
    // cannot supply k = 2 shards alone.
    for s in [0, 1, 3] { h.disks[holders(h)[s]!.index][SlotID(volume: volume, index: UInt8(s))] = nil }
    let start = h.history.count
    h.bringBack(late)
    h.run(for: .days(1) + .hours(1))
    #expect(!h.notes.contains { $0.1 == .volumeLost(volume) })
    let asked = fetches(h.history[start...])
    #expect(asked.contains { $0 == (abandoned, 3) })
    #expect(asked.contains { $0 == (before[2], 2) })
    #expect(asked.allSatisfy { $0.holder == abandoned || $0.holder == before[2] })
    #expect(h.now < graceUntil)
    // The rebuilt slot went to the node that joined.
    let now = holders(h)
    #expect(now.contains(late))
    let onLate = try #require(now.firstIndex(of: late))
    #expect(h.disks[late.index][SlotID(volume: volume, index: UInt8(onLate))]?.count == 2)
}

// MARK: Releases nobody acknowledges

/// A holder replaced for poor uptime is down when released: the release is sent again on
/// every repair tick, `releaseRetriesMax` times, then at doubling intervals (at most a
/// week apart) — not given up, so a holder away for days still learns of it when it is
/// back and frees the shard after its grace period instead of keeping it, unpaid and
/// uncounted, for the rest of the term. (Given up after the quick retries, the harsh-churn
/// research sweep left holders with active copies their owners had forgotten.)
@Test func aReleaseNotAcknowledgedIsRetriedWithBackoffUntilTheHolderIsBack() throws {
    var h = Harness(count: 8)
    let volume = h.addVolume(5, packs: 2)
    h.start()
    let old = try #require(holders(h)[2])
    let contract = try #require(h.nodes[0].volumes[0].slots[2].contract)
    h.offline.insert(old)
    h.inbox.append((.coordinator, owner, .uptimeReply(request: 0, entries: [
        UptimeEntry(node: old, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    #expect(holders(h)[2] != old && holders(h)[2] != nil)
    let interval = h.nodes[0].params.repairInterval
    h.run(for: .days(20))
    let sent = releases(h, of: contract)
    let quick = 1 + ProtocolLimits.releaseRetriesMax
    // Twenty days of ticks every six hours would be 80 sends; the backoff makes it far fewer.
    #expect(sent.count > quick + 3 && sent.count < quick + 12, "\(sent.count) releases")
    let gaps = zip(sent, sent.dropFirst()).map { $1 - $0 }
    // One on release, then one per repair tick...
    for gap in gaps.prefix(quick - 1) { #expect(gap <= interval && gap > .zero) }
    // ...then each wait at least as long as the one before, up to a week.
    let later = Array(gaps.dropFirst(quick - 1))
    for (a, b) in zip(later, later.dropFirst()) { #expect(b >= a) }
    #expect(later.allSatisfy { $0 >= interval * 2 && $0 <= .days(7) + interval })
    #expect(!h.history.contains { $0.from == old && $0.message == .releaseAck(contract: contract) })
    // Back after twenty days away: the next release reaches it, within a week.
    h.bringBack(old)
    h.run(for: .days(8))
    #expect(h.history.contains { $0.from == old && $0.message == .releaseAck(contract: contract) })
    let after = releases(h, of: contract).count
    h.run(for: .days(20))
    #expect(releases(h, of: contract).count == after, "a release acknowledged is not sent again")
    _ = volume
}

// MARK: A fetch source that died during a repair

/// Two holders die at once, but the coordinator notices one first: the repair of its slot
/// asks the other (still looking healthy) for its shard, which never comes. The new holder
/// that already accepted waits for the rebuilt data — it is not given up for the owner's
/// own slow fetch — and when the second dead holder is noticed too, both slots end on the
/// two nodes that were left, the only ones there are. (Found on a loaded machine: the
/// accepted replacement was abandoned at the repair timeout while the fetch was still being
/// retried, and, excluded from the volume for good, left the second slot no node to go to.)
@Test func aReplacementWaitingForARebuildIsNotGivenUpWhileAFetchSourceIsDead() throws {
    var h = Harness(count: 7)
    let volume = h.addVolume(6, packs: 2)
    h.start()
    let before = holders(h).map { $0! }
    let spares = (1..<7).map { NodeID(UInt32($0)) }.filter { !before.contains($0) }
    #expect(spares.count == 2)
    // Slot 0's holder is the first source a rebuild asks; slot 3's is the one noticed.
    let silent = before[0], noticed = before[3]
    h.offline = [silent, noticed]
    h.inbox.append((.coordinator, owner, .uptimeReply(request: 0, entries: [
        UptimeEntry(node: noticed, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .repairStarted(volume, shards: 1) })
    #expect(fetches(h.history[...]).contains { $0.holder == silent })
    h.run(for: .days(3))

    let after = holders(h)
    #expect(Set([after[0], after[3]].compactMap { $0 }) == Set(spares), "\(after) spares \(spares)")
    #expect([after[1], after[2]] == [before[1], before[2]])
    #expect(h.nodes[0].volumes[0].slots.allSatisfy { $0.stored.packs == 2 && !$0.unhealthy && $0.replacement == nil })
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .repairCompleted(volume) })
    // Neither spare was released: each accepted once and was stored to.
    for spare in spares {
        let released = h.history.contains { d in
            guard d.from == owner, d.to == spare, case .release = d.message else { return false }
            return true
        }
        #expect(!released, "\(spare) was released")
    }
}

// MARK: A proposal nobody answers

/// Two nodes that joined go down before the owner places a volume; the coordinator still
/// offers them (seen recently). Their proposals are never answered: the owner gives them
/// up after the proposal timeout (10 minutes) — not the repair timeout hours later — and places those
/// slots on nodes that are up, within the hour. (A first placement was seen stuck at 4 of 5
/// on the real network until the next maintenance tick.)
@Test func anUnansweredProposalIsGivenUpAfterTheProposalTimeout() throws {
    var h = Harness(count: 7)
    let volume = h.addVolume(7, packs: 2)
    // Every holder joins; the owner starts (and places) last.
    h.perform(.coordinator, h.coordinator.onStart(now: h.now))
    for i in (1..<7).reversed() {
        h.perform(NodeID(UInt32(i)), h.nodes[i].onStart(now: h.now))
        h.deliverAll()
    }
    // Which nodes the coordinator will offer (the harness is a value: a copy runs ahead).
    var probe = h
    let start = probe.history.count
    probe.perform(owner, probe.nodes[0].onStart(now: probe.now))
    probe.deliverAll()
    let offered = probe.history[start...].compactMap { d -> NodeID? in
        guard d.from == owner, case .propose = d.message else { return nil }
        return d.to
    }
    let down = Set(offered.prefix(2))
    try #require(down.count == 2, "\(offered)")
    h.offline = down
    h.perform(owner, h.nodes[0].onStart(now: h.now))
    h.deliverAll()
    let proposedToDown = h.history.contains { d in
        guard d.from == owner, down.contains(d.to), case .propose = d.message else { return false }
        return true
    }
    try #require(proposedToDown, "the coordinator offered none of the nodes that went down: the test proves nothing")
    #expect(h.nodes[0].volumes[0].slots.contains { $0.pending == .proposing })
    h.run(for: .hours(1))
    let placed = holders(h)
    #expect(placed.allSatisfy { $0 != nil && !down.contains($0!) }, "\(placed)")
    #expect(h.nodes[0].volumes[0].slots.allSatisfy { $0.stored.packs == 2 && $0.replacement == nil })
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .placed(volume, packs: 2) })
    // Each node that stayed silent was proposed to once, then left alone.
    for node in down {
        let proposals = h.history.filter { d in
            guard d.from == owner, d.to == node, case .propose = d.message else { return false }
            return true
        }
        #expect(proposals.count <= 1)
    }
}

/// An owner cut off from the coordinator (its clock past the bound, a partition) gives no
/// volume up: the coordinator counts it as away and may be repairing the volume blind, and
/// the owner can learn of that only from the coordinator. Back in touch, it decides.
/// (Found by `scripts/random-scenarios.py --long`, seed 190: an owner whose clock drifted
/// past `max_clock_skew_s` could renew nothing, its holders' terms ended, and it declared
/// volumes lost while blind repairs it could not hear of held k shards.)
@Test func anOwnerCutOffFromTheCoordinatorGivesNoVolumeUpUntilItHearsFromItAgain() throws {
    var h = Harness(count: 6)
    let owner = NodeID(0)
    let volume = h.addVolume(6, packs: 2)
    h.start()
    let holders = h.nodes[0].volumes[0].slots.map { $0.holder! }
    var cutOff = true
    h.lose = { from, to, _ in cutOff && (from == owner && to == .coordinator || from == .coordinator && to == owner) }
    // Silent for longer than three repair ticks, the coordinator leaves the owner cut off.
    h.run(for: .days(1))
    // Three of the four holders lose their shards: only one slot is left, k = 2.
    for s in [0, 1, 2] { h.disks[holders[s].index][SlotID(volume: volume, index: UInt8(s))] = nil }
    h.run(for: .days(2))
    #expect(h.nodes[0].volumes[0].slots.count { $0.failed } == 3, "the owner did not find the shards missing")
    #expect(!h.notes.contains { $0.1 == .volumeLost(volume) })
    #expect(!h.nodes[0].volumes[0].lost)
    // In touch again: at the first answer from the coordinator, the volume is given up.
    cutOff = false
    h.run(for: .hours(13))
    #expect(h.notes.contains { $0.0 == owner && $0.1 == .volumeLost(volume) })
}
