import CairnWire
import CairnCore
import CairnCrypto
import Testing

// MARK: Placement, contracts, challenges through NodeCore

@Test func ownerPlacesAPackOnDistinctHoldersWithAgreeingBooks() {
    var h = Harness(count: 8)
    let volume = h.addVolume(7)
    h.start()
    let slots = h.nodes[0].volumes[0].slots
    let holders = slots.compactMap(\.holder)
    #expect(holders.count == 4)
    #expect(Set(holders).count == 4)
    #expect(!holders.contains(NodeID(0)))
    for slot in slots {
        let contract = slot.contract!
        let owned = h.nodes[0].book.owned[contract]!
        let held = h.nodes[slot.holder!.index].book.held[contract]!
        #expect(owned.state == .active && held.state == .active)
        #expect(owned.terms == held.terms && owned.ownerSignature == held.ownerSignature
            && owned.holderSignature == held.holderSignature)
    }
    #expect(h.nodes[0].volumes[0].localCopy == false)
    #expect(h.coordinator.rootRecords[volume]?.holders == holders)
}

/// The owner challenges, the holder that lost the shard answers "missing", the owner
/// reports it, rebuilds the shard from k others and places it on a new holder — all at
/// once here, since the harness delivers instantly.
@Test func aHolderThatDroppedItsShardIsReportedAndReplaced() {
    var h = Harness(count: 8)
    let volume = h.addVolume(3, packs: 3)
    h.start()
    let dropper = h.nodes[0].volumes[0].slots[1].holder!
    h.disks[dropper.index] = [:]
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    let after = h.nodes[0].volumes[0].slots
    #expect(after[1].holder != nil && after[1].holder != dropper)
    #expect(after.allSatisfy { !$0.failed && $0.holder != nil })
    #expect(Set(after.compactMap(\.holder)).count == 4)
    #expect(h.disks[after[1].holder!.index][SlotID(volume: volume, index: 1)] != nil)
    #expect(h.notes.contains { $0.1 == .repairCompleted(volume) })
    #expect(h.coordinator.entry(dropper)?.reputation.strikes == 1)
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: dropper, .missing) })
}

// MARK: Grace and audits, on the harness's virtual time

/// Places a volume, then tells the owner (as the coordinator would) that the holder of slot 2
/// has poor uptime: the owner re-creates slot 2 elsewhere and releases the old holder in
/// good faith. Returns the harness, the volume and the released holder.
private func replacedInGoodFaith() -> (Harness, VolumeID, NodeID) {
    var h = Harness(count: 8)
    let volume = h.addVolume(5, packs: 2)
    h.start()
    let old = h.nodes[0].volumes[0].slots[2].holder!
    h.now = h.now + .hours(6)
    h.inbox.append((.coordinator, NodeID(0), .uptimeReply(request: 0, entries: [
        UptimeEntry(node: old, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    return (h, volume, old)
}

@Test func aReleasedHolderKeepsTheShardThroughGraceUnderAuditThenFreesIt() {
    var (h, volume, old) = replacedInGoodFaith()
    let shard = SlotID(volume: volume, index: 2)
    let slot = h.nodes[0].volumes[0].slots[2]
    #expect(slot.holder != nil && slot.holder != old && !slot.unhealthy)
    #expect(h.disks[slot.holder!.index][shard] != nil)
    // The old holder was told when the contract ended and keeps the shard for the grace period.
    let released = h.notes.compactMap { n -> Instant? in
        if n.0 == old, case let .released(s, until) = n.1, s == shard { until } else { nil }
    }
    #expect(released == [h.now + .days(7)])
    #expect(h.disks[old.index][shard] != nil)
    #expect(h.nodes[0].auditCount == 1)
    // Audits during the grace period pass.
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    #expect(!h.notes.contains { if case .fault(old, _) = $0.1 { true } else { false } })
    #expect(h.nodes[0].auditCount == 1)
    // At the end of grace the holder frees the shard and the owner stops auditing.
    h.now = h.now + .days(6) + .hours(1)
    h.fire(old.index, .heartbeat)
    #expect(h.disks[old.index][shard] == nil)
    #expect(h.notes.contains { $0.0 == old && $0.1 == .freed(shard) })
    h.fire(0, .challenge)
    #expect(h.nodes[0].auditCount == 0)
    #expect(!h.notes.contains { if case .fault(old, _) = $0.1 { true } else { false } })
}

@Test func aHolderThatFreesDuringGraceIsCaughtByTheAuditAsAnEarlyFreer() {
    var (h, volume, old) = replacedInGoodFaith()
    h.disks[old.index][SlotID(volume: volume, index: 2)] = nil
    h.now = h.now + .days(1)
    h.fire(0, .challenge)
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: old, .earlyFree) })
    #expect(h.coordinator.entry(old)?.reputation.strikes == 1)
    #expect(h.nodes[0].auditCount == 0)
    // The volume itself is whole: slot 2 lives on its new holder.
    #expect(h.nodes[0].volumes[0].slots.allSatisfy { $0.holder != nil && !$0.failed })
}

// MARK: Volumes: appending to placed holders

@Test func appendedPacksReachEveryPlacedHolderAndAreChallenged() {
    var h = Harness(count: 8)
    let volume = h.addVolume(1, packs: 2, capacity: 8 * Harness.geometry.shardBytes)
    h.start()
    #expect(h.notes.contains { $0.1 == .placed(volume, packs: 2) })
    h.appendPacks(volume, count: 3)
    let v = h.nodes[0].volumes[0]
    #expect(v.layout.packs == 5 && v.slotBytes == 5 * Harness.geometry.shardBytes)
    for (s, slot) in v.slots.enumerated() {
        #expect(slot.stored.packs == 5 && slot.stored.root == v.roots[s] && slot.appending == nil)
        #expect(h.disks[slot.holder!.index][SlotID(volume: volume, index: UInt8(s))]?.count == 5)
    }
    #expect(h.notes.contains { $0.1 == .placed(volume, packs: 5) })
    #expect(h.coordinator.rootRecords[volume]?.stored == [5, 5, 5, 5])
    // Challenges now range over all five packs, and every answer verifies.
    for day in 1...6 {
        h.now = .zero + .days(Int64(day))
        h.fire(0, .challenge)
    }
    #expect(!h.notes.contains { if case .fault = $0.1 { true } else { false } })
    // A pack past the volume's capacity is refused and changes nothing.
    let roots = (0..<4).map { _ in [UInt8](repeating: 1, count: 32) }
    h.appendPacks(volume, count: 3)
    #expect(throws: VolumeError.full(volume, capacity: 8 * 16, wouldBe: 9 * 16)) {
        try h.nodes[0].appendPack(to: volume, geometry: Harness.geometry, roots: roots, now: h.now)
    }
    #expect(h.nodes[0].volumes[0].layout.packs == 8)
    try? h.nodes[0].closeVolume(volume)
    #expect(throws: VolumeError.closed(volume)) {
        try h.nodes[0].appendPack(to: volume, geometry: PackGeometry(k: 2, n: 4, shardBytes: 1), roots: roots, now: h.now)
    }
}

@Test func aHolderAwayDuringAnAppendCatchesUpAndUntilThenIsChallengedOnWhatItHas() {
    var h = Harness(count: 8)
    let volume = h.addVolume(2, packs: 2, capacity: 8 * Harness.geometry.shardBytes)
    h.start()
    let away = h.nodes[0].volumes[0].slots[1].holder!
    h.offline = [away]
    h.appendPacks(volume, count: 2)
    var v = h.nodes[0].volumes[0]
    #expect(v.slots[1].stored.packs == 2 && v.slots[0].stored.packs == 4)
    // The new packs stay in the owner's store until every slot has them.
    #expect(v.localFrom == 2 && !h.notes.contains { $0.1 == .placed(volume, packs: 4) })
    // The away holder is challenged on the two packs it has (it answers once back).
    h.offline = []
    h.now = .zero + .days(1)
    h.fire(0, .challenge)
    #expect(!h.notes.contains { if case .fault = $0.1 { true } else { false } })
    // On the next repair tick past the timeout the append is sent again and lands.
    h.now = h.now + .hours(7)
    h.fire(0, .repair)
    v = h.nodes[0].volumes[0]
    #expect(v.slots[1].stored.packs == 4 && v.slots[1].holder == away)
    #expect(h.disks[away.index][SlotID(volume: volume, index: 1)]?.count == 4)
    #expect(v.localFrom == 4 && h.notes.contains { $0.1 == .placed(volume, packs: 4) })
}

@Test func volumesAreRefusedWithTheReasonAndNothingChanges() {
    var h = Harness(count: 2)
    let mine = VolumeID(owner: NodeID(0), number: 1)
    #expect(throws: VolumeError.notMine(VolumeID(owner: NodeID(1), number: 1))) {
        try h.nodes[0].openVolume(VolumeID(owner: NodeID(1), number: 1), k: 2, n: 4, capacity: 100)
    }
    let badCode = #expect(throws: VolumeError.self) { try h.nodes[0].openVolume(mine, k: 5, n: 4, capacity: 100) }
    #expect(badCode?.codeName == "badCode" && badCode?.message.contains("5-of-4") == true)
    try! h.nodes[0].openVolume(mine, k: 2, n: 4, capacity: 100)
    #expect(throws: VolumeError.duplicate(mine)) { try h.nodes[0].openVolume(mine, k: 2, n: 4, capacity: 100) }
    let roots = (0..<4).map { _ in [UInt8](repeating: 1, count: 32) }
    #expect(throws: VolumeError.codeMismatch(mine, volume: "2-of-4", pack: "3-of-4")) {
        try h.nodes[0].appendPack(to: mine, geometry: PackGeometry(k: 3, n: 4, shardBytes: 10), roots: roots, now: .zero)
    }
    #expect(throws: VolumeError.badRoots(mine, count: 3, n: 4)) {
        try h.nodes[0].appendPack(to: mine, geometry: Harness.geometry, roots: Array(roots.prefix(3)), now: .zero)
    }
    let unknown = VolumeID(owner: NodeID(0), number: 9)
    #expect(throws: VolumeError.unknown(unknown)) {
        try h.nodes[0].appendPack(to: unknown, geometry: Harness.geometry, roots: roots, now: .zero)
    }
    #expect(h.nodes[0].volumes.count == 1 && h.nodes[0].volumes[0].layout.packs == 0)
    let error = VolumeError.full(mine, capacity: 100, wouldBe: 116)
    #expect(error.codeName == "volumeFull" && error.message.contains("open the next volume"))
}

/// A rebuild counts only slots whose stream checks against the root their holder
/// acknowledged: a holder that streams altered data is reported as a liar, and the slot is
/// fetched from another holder.
@Test func aFetchedSlotThatDoesNotVerifyIsReportedAndFetchedElsewhere() {
    var h = Harness(count: 9)
    let volume = h.addVolume(4, packs: 2)
    h.start()
    #expect(!h.nodes[0].volumes[0].localCopy)
    let slots = h.nodes[0].volumes[0].slots
    let poor = slots[2].holder!, altered = slots[0].holder!
    // Slot 0's holder keeps its slot, but changed.
    h.disks[altered.index][SlotID(volume: volume, index: 0)]![1][2][0] ^= 0xff
    // Slot 2's holder has poor uptime: the owner rebuilds slot 2 from fetched slots, the
    // healthiest first (slot 0 among them).
    h.now = h.now + .hours(6)
    h.inbox.append((.coordinator, NodeID(0), .uptimeReply(request: 0, entries: [
        UptimeEntry(node: poor, permille: 100, excluded: false),
    ])))
    h.deliverAll()
    #expect(h.notes.contains { $0.0 == .coordinator && $0.1 == .fault(holder: altered, .badProof) })
    let after = h.nodes[0].volumes[0].slots
    // Both slots are re-created on new holders, from the two slots that verified.
    for s in [0, 2] {
        #expect(after[s].holder != nil && after[s].holder != poor && after[s].holder != altered && after[s].stored.packs == 2)
        #expect(h.disks[after[s].holder!.index][SlotID(volume: volume, index: UInt8(s))] == Harness.packs(SlotID(volume: volume, index: UInt8(s)), 2))
    }
}

/// The simulator skips building the heartbeat tick's actions when `quietHeartbeat` says
/// there is nothing to expire: what it returns must be exactly what the tick would do, and
/// it must refuse (nil) once a grace period has ended, so the full tick frees the shard.
@Test func aQuietHeartbeatIsExactlyTheTicksActionsAndRefusesWhenSomethingExpires() {
    let (h, volume, old) = replacedInGoodFaith()
    let shard = SlotID(volume: volume, index: 2)
    let during = h.now + .days(3)
    let beat = h.nodes[old.index].quietHeartbeat(now: during)
    var copy = h.nodes[old.index]
    let actions = copy.onTimer(.heartbeat, now: during)
    #expect(beat != nil)
    if let beat {
        #expect(actions == [.send(to: .coordinator, .heartbeat(used: beat.used)), .setTimer(.heartbeat, at: beat.next)])
        #expect(beat.used == h.nodes[old.index].book.reservedBytes && beat.used > 0)
    }
    // Past the end of grace the tick has a shard to free: no quiet heartbeat.
    let after = h.now + .days(7) + .hours(1)
    #expect(h.nodes[old.index].quietHeartbeat(now: after) == nil)
    copy = h.nodes[old.index]
    let full = copy.onTimer(.heartbeat, now: after)
    #expect(full.contains(.deleteSlot(shard)))
}

/// The coordinator's in-place heartbeat does what `onMessage` does with a heartbeat, and
/// declines (changing nothing) where `onMessage` would do more or something else.
@Test func aQuietHeartbeatAtTheCoordinatorMatchesOnMessageOrDeclines() {
    func core() -> CoordinatorCore {
        var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: DigestSigner(seed: [9]),
                                verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
        _ = c.admit()
        return c
    }
    let node = NodeID(0)
    let sent = Instant(milliseconds: 5_000), now = Instant(milliseconds: 5_100)
    var full = core(), quiet = core()
    let fullActions = full.onMessage(from: node, .heartbeat(used: 77), sent: sent, now: now)
    let taken = quiet.onQuietHeartbeat(from: node, used: 77, sent: sent, now: now)
    #expect(fullActions.isEmpty && taken)
    #expect(quiet.entry(node)?.used == 77 && full.entry(node)?.used == 77)
    #expect(quiet.entry(node)?.lastSeen == now && full.entry(node)?.lastSeen == now)
    #expect(quiet.entry(node)?.seenThisSlot == true && full.entry(node)?.seenThisSlot == true)
    // A node never admitted, and a clock too far off: left to onMessage.
    var other = core()
    let stranger = other.onQuietHeartbeat(from: NodeID(1), used: 1, sent: sent, now: now)
    let skewed = other.onQuietHeartbeat(from: node, used: 1, sent: now + .hours(2), now: now)
    #expect(!stranger && !skewed)
    #expect(other.entry(node)?.lastSeen == nil && other.entry(node)?.used == 0)
}
