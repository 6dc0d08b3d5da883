import CairnCore
import CairnNode
import CairnWire
import Testing

/// A coordinator that lost its directory learns where an away owner's volumes are from the
/// holders' reports (`holding`): only slots held under a contract the owner signed, only
/// where at least k holders agree on the volume's layout, and never over the owner's own
/// root record.
private let coordinatorSigner = DigestSigner(seed: [0xc0])
private let ownerSigner = DigestSigner(seed: [1])
private let owner = NodeID(1)
private let volume = VolumeID(owner: owner, number: 7)
private let now = Instant(milliseconds: 5_000_000)
private let layout = VolumeLayout(k: 2, n: 4, packs: 3, slotBytes: 1000)
private func root(_ s: UInt8) -> [UInt8] { Array(repeating: s + 1, count: 32) }

/// A rebuilt directory: nodes 2...6 took their numbers back, the owner (1) never came.
private func rebuilt() -> CoordinatorCore {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: coordinatorSigner,
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    c.admit(exactly: NodeID(6))
    for i in 2...6 {
        _ = c.onMessage(from: NodeID(UInt32(i)), .join(offered: 1 << 30, speed: 1000,
                                                       publicKey: DigestSigner(seed: [UInt8(i)]).publicKey, fresh: false),
                        sent: now, now: now)
    }
    return c
}

private func terms(slot: UInt8, holder: NodeID, start: Instant = now - .days(1)) -> ContractTerms {
    ContractTerms(id: ContractID(owner: owner, counter: UInt32(slot) + 1), owner: owner, holder: holder,
                  shard: SlotID(volume: volume, index: slot), bytes: 1000, start: start, term: .days(30), grace: .days(7))
}

private func report(slot: UInt8, holder: NodeID, signer: DigestSigner = ownerSigner, layout l: VolumeLayout = layout,
                    start: Instant = now - .days(1)) -> Message {
    let t = terms(slot: slot, holder: holder, start: start)
    return .holding(HeldSlotReport(terms: t, ownerKey: signer.publicKey, ownerSignature: signer.sign(t.signingBytes),
                                   layout: l, root: root(slot)))
}

/// What a restore asking for the owner's volumes is told.
private func query(_ c: inout CoordinatorCore) -> [VolumeLocation] {
    for case let .send(_, .recordReply(_, _, total, volumes)) in c.onMessage(
        from: NodeID(99), .recordQuery(request: 1, owner: owner, start: 0), sent: now, now: now)
    {
        #expect(Int(total) == volumes.count)
        return volumes
    }
    Issue.record("no record reply")
    return []
}

@Test func holdersReportsLocateTheVolumesOfAnOwnerThatDidNotComeBack() {
    var c = rebuilt()
    #expect(query(&c).isEmpty)
    // Slots 0, 1 and 3 on nodes 2, 3 and 5; slot 2's holder is gone.
    for (slot, holder) in [(0, 2), (1, 3), (3, 5)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    let found = query(&c)
    #expect(found.count == 1)
    let l = try! #require(found.first)
    #expect(l.volume == volume && l.layout == layout)
    #expect(l.holders == [NodeID(2), NodeID(3), .coordinator, NodeID(5)])
    #expect(l.stored == [3, 3, 0, 3])
    #expect(l.roots == [root(0), root(1), [], root(3)])
    #expect(l.online == 0b1011)
    // A restore from the phrase holds the owner's key: the number its holders name is its.
    #expect(c.reportedOwner(key: ownerSigner.publicKey) == owner)
    #expect(c.reportedOwner(key: DigestSigner(seed: [9]).publicKey) == nil)
}

@Test func fewerThanKAgreeingHoldersLocateNothing() {
    var c = rebuilt()
    _ = c.onMessage(from: NodeID(2), report(slot: 0, holder: NodeID(2)), sent: now, now: now)
    #expect(query(&c).isEmpty)
    #expect(c.reportedOwner(key: ownerSigner.publicKey) == nil)
}

@Test func aLyingHolderCannotPlaceItselfInAnAwayOwnersVolume() {
    var c = rebuilt()
    let liar = NodeID(6), liarKey = DigestSigner(seed: [6])
    for (slot, holder) in [(0, 2), (1, 3), (3, 5)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    let honest = query(&c)
    // A contract it was never given: it cannot sign as the owner...
    let t = terms(slot: 2, holder: liar)
    _ = c.onMessage(from: liar, .holding(HeldSlotReport(terms: t, ownerKey: ownerSigner.publicKey,
                                                        ownerSignature: Array(repeating: 0, count: 64), layout: layout,
                                                        root: root(9))),
                    sent: now, now: now)
    // ...nor report someone else's slot (the holder named is not the reporter)...
    _ = c.onMessage(from: liar, report(slot: 2, holder: NodeID(4)), sent: now, now: now)
    // ...and contracts it signed itself, with a newer start, are under another key: the
    // owner's real holders outnumber it (and a restore checks every slot against the
    // owner's own keys anyway).
    _ = c.onMessage(from: liar, report(slot: 0, holder: liar, signer: liarKey, start: now), sent: now, now: now)
    _ = c.onMessage(from: liar, report(slot: 1, holder: liar, signer: liarKey, start: now), sent: now, now: now)
    #expect(query(&c) == honest)
    #expect(c.reportedOwner(key: liarKey.publicKey) == nil)
}

@Test func aHolderLyingAboutTheLayoutOnlyLosesItsOwnSlot() {
    var c = rebuilt()
    // Node 5 really holds slot 3 but claims many more packs (or another code): the layout
    // the others agree on stands, and its slot is left out of it.
    for (slot, holder) in [(0, 2), (1, 3)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    _ = c.onMessage(from: NodeID(5), report(slot: 3, holder: NodeID(5), layout: VolumeLayout(k: 2, n: 4, packs: 300, slotBytes: 1000)),
                    sent: now, now: now)
    _ = c.onMessage(from: NodeID(4), report(slot: 2, holder: NodeID(4), layout: VolumeLayout(k: 1, n: 4, packs: 3, slotBytes: 1000)),
                    sent: now, now: now)
    let l = try! #require(query(&c).first)
    #expect(l.layout == layout)
    #expect(l.holders == [NodeID(2), NodeID(3), .coordinator, .coordinator])
}

@Test func theOwnersOwnRecordWinsOverEveryReport() {
    var c = rebuilt()
    for (slot, holder) in [(0, 2), (1, 3), (2, 4)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    // The owner comes back: it takes its number back and sends its record (slot 1 moved to 6).
    c.admit(exactly: owner)
    _ = c.onMessage(from: owner, .join(offered: 1 << 30, speed: 1000, publicKey: ownerSigner.publicKey, fresh: false),
                    sent: now, now: now)
    let own = VolumeLocation(volume: volume, layout: layout, holders: [NodeID(2), NodeID(6), NodeID(4), NodeID(5)],
                             stored: [3, 3, 3, 3], roots: (0..<4).map { root(UInt8($0)) })
    _ = c.onMessage(from: owner, .rootRecord(own), sent: now, now: now)
    #expect(c.reported.isEmpty)
    // A report after it, however fresh, changes nothing.
    _ = c.onMessage(from: NodeID(3), report(slot: 1, holder: NodeID(3), start: now), sent: now, now: now)
    #expect(c.reported.isEmpty)
    let l = try! #require(query(&c).first)
    #expect(l.holders == own.holders)
    #expect(query(&c).count == 1)
}

@Test func aKnownOwnersKeyIsTheOnlyOneTaken() {
    var c = rebuilt()
    c.admit(exactly: owner)
    _ = c.onMessage(from: owner, .join(offered: 1 << 30, speed: 1000, publicKey: ownerSigner.publicKey, fresh: false),
                    sent: now, now: now)
    let other = DigestSigner(seed: [7])
    _ = c.onMessage(from: NodeID(2), report(slot: 0, holder: NodeID(2), signer: other), sent: now, now: now)
    #expect(c.reported.isEmpty)
    _ = c.onMessage(from: NodeID(2), report(slot: 0, holder: NodeID(2)), sent: now, now: now)
    #expect(c.reported[volume]?.count == 1)
}

@Test func aReporterKeepsOneSlotPerVolumeAndTheNewerContractHoldsASlot() {
    var c = rebuilt()
    // Node 2 reports slot 0, then slot 1 of the same volume: the second replaces the first.
    _ = c.onMessage(from: NodeID(2), report(slot: 0, holder: NodeID(2)), sent: now, now: now)
    _ = c.onMessage(from: NodeID(2), report(slot: 1, holder: NodeID(2)), sent: now, now: now)
    #expect(c.reported[volume]?.map(\.index) == [1])
    // Slot 0 reported by two holders (an old contract in grace, and the repair's newer one).
    _ = c.onMessage(from: NodeID(3), report(slot: 0, holder: NodeID(3), start: now - .days(9)), sent: now, now: now)
    _ = c.onMessage(from: NodeID(4), report(slot: 0, holder: NodeID(4), start: now - .days(2)), sent: now, now: now)
    let l = try! #require(query(&c).first)
    #expect(l.holders == [NodeID(4), NodeID(2), .coordinator, .coordinator])
}

@Test func reportsSurviveTheCoordinatorsCheckpoint() throws {
    var c = rebuilt()
    for (slot, holder) in [(0, 2), (1, 3)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    var back = try CheckpointCodec.decode(CoordinatorCore.self, from: try CheckpointCodec.encode(c),
                                          keys: CheckpointKeys(signer: coordinatorSigner, verifier: DigestSigner()))
    #expect(back.reported == c.reported)
    #expect(query(&back) == query(&c))
}

@Test func aHolderReportsTheSlotsItsOwnersGaveItAndNothingElse() {
    let holder = NodeID(3)
    var core = NodeCore(me: holder, params: NodeParams(k: 2, n: 4), offered: 1 << 30, speed: 1000, reciprocityRatio: 1,
                        signer: DigestSigner(seed: [3]), verifier: DigestSigner(), coordinatorKey: coordinatorSigner.publicKey,
                        rng: Xoshiro256(seed: 3))
    let stored = terms(slot: 1, holder: holder, start: now)
    let notYet = ContractTerms(id: ContractID(owner: NodeID(2), counter: 1), owner: NodeID(2), holder: holder,
                               shard: SlotID(volume: VolumeID(owner: NodeID(2), number: 1), index: 0), bytes: 1000, start: now,
                               term: .days(30), grace: .days(7))
    let other = DigestSigner(seed: [2])
    _ = core.onMessage(from: owner, .propose(terms: stored, ownerKey: ownerSigner.publicKey,
                                             ownerSignature: ownerSigner.sign(stored.signingBytes), mandate: nil),
                       sent: now, now: now)
    _ = core.onMessage(from: NodeID(2), .propose(terms: notYet, ownerKey: other.publicKey,
                                                 ownerSignature: other.sign(notYet.signingBytes), mandate: nil),
                       sent: now, now: now)
    let extent = SlotExtent(packs: 3, bytes: 1000, root: root(1))
    _ = core.onSlotStored(contract: stored.id, slot: stored.shard, packs: 3, replyTo: owner, verified: true, now: now)
    let actions = core.reportHeld { slot in slot == stored.shard ? (2, 4, extent) : nil }
    #expect(actions == [.send(to: .coordinator, .holding(HeldSlotReport(
        terms: stored, ownerKey: ownerSigner.publicKey, ownerSignature: ownerSigner.sign(stored.signingBytes),
        layout: layout, root: root(1))))])

    // And the coordinator takes exactly that.
    var c = rebuilt()
    for case let .send(_, message) in actions { _ = c.onMessage(from: holder, message, sent: now, now: now) }
    #expect(c.reported[volume]?.map(\.holder) == [holder])
}

/// A report lasts as long as its holder may keep the slot: one whose grace has ended is
/// refused, one taken is dropped at the first uptime slot past the contract's end plus
/// grace, and a holder back with an empty disk takes all of its reports with it. The
/// owner's key then names nobody.
@Test func holdersReportsEndWithTheirContractsGraceOrTheHoldersDisk() {
    // Terms of 30 days and 7 of grace, started 36 days ago: one day of grace left.
    let old = now - .days(36)
    var c = rebuilt()
    for (slot, holder) in [(0, 2), (1, 3)] as [(UInt8, UInt32)] {
        _ = c.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder), start: old), sent: now, now: now)
    }
    #expect(query(&c).count == 1)
    #expect(c.reportedOwner(key: ownerSigner.publicKey) == owner)
    // Past the grace: gone at the next slot; a report of it now is refused.
    let later = now + .days(1) + .hours(1)
    _ = c.onTimer(.uptimeSlot, now: later)
    #expect(c.reported.isEmpty)
    #expect(c.reportedOwner(key: ownerSigner.publicKey) == nil)
    _ = c.onMessage(from: NodeID(2), report(slot: 0, holder: NodeID(2), start: old), sent: later, now: later)
    #expect(c.reported.isEmpty)

    // Fresh contracts; holder 3 comes back with an empty disk.
    var d = rebuilt()
    for (slot, holder) in [(0, 2), (1, 3), (3, 5)] as [(UInt8, UInt32)] {
        _ = d.onMessage(from: NodeID(holder), report(slot: slot, holder: NodeID(holder)), sent: now, now: now)
    }
    _ = d.onTimer(.uptimeSlot, now: now + .hours(1))
    #expect(d.reported[volume]?.count == 3)
    _ = d.onMessage(from: NodeID(3), .join(offered: 1 << 30, speed: 1000, publicKey: DigestSigner(seed: [3]).publicKey,
                                           fresh: true), sent: now, now: now)
    #expect(d.reported[volume]?.map(\.holder) == [NodeID(2), NodeID(5)])
    let l = query(&d).first
    #expect(l?.holders == [NodeID(2), .coordinator, .coordinator, NodeID(5)])
    #expect(d.reportedOwner(key: ownerSigner.publicKey) == owner)
}
