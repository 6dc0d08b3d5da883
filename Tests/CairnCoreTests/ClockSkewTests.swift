import CairnCore
import CairnWire
import Testing

/// Network time: each message carries its sender's clock; a receiver refuses stamps and
/// contract starts further from its own clock than `maxClockSkew`, and says so in a note.
private let ownerSigner = DigestSigner(seed: [1])
private let owner = NodeID(1), holder = NodeID(3)
private let now = Instant(milliseconds: 1_764_547_200_000)

private func holderCore(skew: Interval = .minutes(5)) -> NodeCore {
    NodeCore(me: holder, params: NodeParams(k: 2, n: 4, maxClockSkew: skew), offered: 1 << 30, speed: 1000,
             reciprocityRatio: 1, signer: DigestSigner(seed: [3]), verifier: DigestSigner(),
             coordinatorKey: DigestSigner(seed: [0xc0]).publicKey, rng: Xoshiro256(seed: 3))
}

private func proposal(start: Instant) -> Message {
    let t = ContractTerms(id: ContractID(owner: owner, counter: 1), owner: owner, holder: holder,
                          shard: SlotID(volume: VolumeID(7), index: 1), bytes: 1000, start: start, term: .days(30),
                          grace: .days(7))
    return .propose(terms: t, ownerKey: ownerSigner.publicKey, ownerSignature: ownerSigner.sign(t.signingBytes), mandate: nil)
}

private enum Answer: Equatable { case accepted, rejected(UInt8), refusedStamp(Interval), silent }

private func answer(_ actions: [NodeAction]) -> Answer {
    for action in actions {
        switch action {
        case .send(_, .accept): return .accepted
        case let .send(_, .reject(_, reason)): return .rejected(reason)
        case let .note(.clockSkew(from, by)) where from == owner: return .refusedStamp(by)
        default: continue
        }
    }
    return .silent
}

@Test func stampsWithinTheBoundAreTakenBeyondItRefusedWithANote() {
    let message = proposal(start: now)
    var core = holderCore()
    #expect(answer(core.onMessage(from: owner, message, sent: now - .minutes(4), now: now)) == .accepted)
    for off in [Interval.minutes(5) + Interval(milliseconds: 1), .hours(3), .days(-2)] {
        var fresh = holderCore()
        #expect(answer(fresh.onMessage(from: owner, message, sent: now + off, now: now)) == .refusedStamp(off))
        #expect(fresh.book.held.isEmpty)
    }
    // Exactly at the bound is within it; a tighter bound refuses the same stamp.
    var edge = holderCore()
    #expect(answer(edge.onMessage(from: owner, message, sent: now + .minutes(5), now: now)) == .accepted)
    var tight = holderCore(skew: .seconds(30))
    #expect(answer(tight.onMessage(from: owner, message, sent: now + .minutes(1), now: now)) == .refusedStamp(.minutes(1)))
}

/// A proposal stamped in time but whose contract starts far from the holder's clock would
/// end the term at different instants on the two sides: refused as `badTime`.
@Test func aContractStartOffTheHoldersClockIsRejected() {
    var core = holderCore()
    #expect(answer(core.onMessage(from: owner, proposal(start: now - .minutes(20)), sent: now, now: now))
        == .rejected(ContractBook.Refusal.badTime.rawValue))
    #expect(core.book.held.isEmpty)
    var late = holderCore()
    #expect(answer(late.onMessage(from: owner, proposal(start: now + .hours(2)), sent: now, now: now))
        == .rejected(ContractBook.Refusal.badTime.rawValue))
}

@Test func theCoordinatorAndRestoresRefuseFarStamps() {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4, maxClockSkew: .minutes(5)),
                            signer: DigestSigner(seed: [9]), verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    for _ in 0...owner.raw { _ = c.admit() }
    let join = Message.join(offered: 1 << 30, speed: 1000, publicKey: ownerSigner.publicKey, fresh: false)
    let refused = c.onMessage(from: owner, join, sent: now + .minutes(10), now: now)
    #expect(refused == [.note(.clockSkew(from: owner, by: .minutes(10)))])
    #expect(c.members.isEmpty)
    _ = c.onMessage(from: owner, join, sent: now, now: now)
    #expect(c.members == [owner])

    var s = RestoreSession(owner: owner, params: RestoreSession.Params(maxClockSkew: .minutes(5)), now: now, patience: .hours(1))
    guard case let .send(_, .recordQuery(request, _, _))? = s.start(now: now).first else {
        Issue.record("no record query")
        return
    }
    let reply = Message.recordReply(request: request, start: 0, total: 0, volumes: [])
    #expect(s.onMessage(from: .coordinator, reply, sent: now - .hours(1), now: now)
        == [.note(.clockSkew(from: .coordinator, by: .hours(-1)))])
    #expect(s.outcome == .running)
}

@Test func instantsCompareWithinABoundWithoutOverflow() {
    #expect(Instant(milliseconds: 10).within(Interval(milliseconds: 5), of: Instant(milliseconds: 15)))
    #expect(!Instant(milliseconds: 10).within(Interval(milliseconds: 4), of: Instant(milliseconds: 15)))
    #expect(!Instant(milliseconds: .max).within(.hours(1), of: Instant(milliseconds: .min)))
    #expect(!Instant(milliseconds: .min).within(.hours(1), of: Instant(milliseconds: 0)))
}

/// The coordinator only keeps node numbers it admitted: a message from, or a report or
/// uptime query about, any other number cannot make its directory grow.
@Test func theCoordinatorRefusesNodeNumbersItNeverAssigned() {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: DigestSigner(seed: [9]),
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    let a = c.admit(), b = c.admit()
    #expect(a == NodeID(0) && b == NodeID(1))
    let hostile = NodeID(4_000_000_000)
    let join = Message.join(offered: 1 << 30, speed: 1000, publicKey: [1], fresh: false)
    #expect(c.onMessage(from: hostile, join, now: now) == [.note(.unknownNode(hostile))])
    #expect(c.entries.count == 2 && c.members.isEmpty)
    _ = c.onMessage(from: a, join, now: now)
    _ = c.onMessage(from: a, .report(holder: hostile, fault: .missing, since: now), now: now)
    let reply = c.onMessage(from: a, .uptimeQuery(request: 1, nodes: [b, hostile]), now: now)
    #expect(c.entries.count == 2)
    guard case let .send(_, .uptimeReply(_, entries))? = reply.first else {
        Issue.record("no uptime reply: \(reply)")
        return
    }
    #expect(entries.map(\.node) == [b, hostile])
    #expect(entries[1].excluded && entries[1].permille == 0)
}

/// A holder acknowledges a slot only after its storage verified the roots and made it
/// durable: the core asks (`storeSlot` action) and answers when told (`onSlotStored`); an
/// append continues from what is stored, and nothing beyond the contract's bytes is asked.
@Test func aSlotIsAcknowledgedOnlyAfterStorageVerifiedIt() {
    var core = holderCore()
    guard case .accepted = answer(core.onMessage(from: owner, proposal(start: now), sent: now, now: now)) else {
        Issue.record("proposal not accepted")
        return
    }
    let contract = ContractID(owner: owner, counter: 1)
    let slot = SlotID(volume: VolumeID(7), index: 1)
    let first = SlotExtent(packs: 2, bytes: 600, root: [UInt8](repeating: 4, count: 32))
    let asked = core.onMessage(from: owner, .storeSlot(contract: contract, slot: slot, from: 0, to: first, bytes: 600),
                               sent: now, now: now)
    #expect(asked == [.storeSlot(contract: contract, slot: slot, from: 0, to: first, replyTo: owner)])
    #expect(!core.book.holdsStored(slot))
    #expect(core.onSlotStored(contract: contract, slot: slot, packs: 2, replyTo: owner, verified: false, now: now)
        == [.note(.slotRefused(slot))])
    #expect(!core.book.holdsStored(slot))
    #expect(core.onSlotStored(contract: contract, slot: slot, packs: 2, replyTo: owner, verified: true, now: now)
        == [.send(to: owner, .storeAck(contract: contract, packs: 2))])
    #expect(core.book.storedPacks(slot) == 2)
    // An append must continue from the two packs stored; a resend is acknowledged again.
    let more = SlotExtent(packs: 3, bytes: 900, root: [UInt8](repeating: 5, count: 32))
    #expect(core.onMessage(from: owner, .storeSlot(contract: contract, slot: slot, from: 1, to: more, bytes: 600),
                           sent: now, now: now).isEmpty)
    #expect(core.onMessage(from: owner, .storeSlot(contract: contract, slot: slot, from: 2, to: more, bytes: 300),
                           sent: now, now: now)
        == [.storeSlot(contract: contract, slot: slot, from: 2, to: more, replyTo: owner)])
    #expect(core.onMessage(from: owner, .storeSlot(contract: contract, slot: slot, from: 1, to: first, bytes: 300),
                           sent: now, now: now) == [.send(to: owner, .storeAck(contract: contract, packs: 2))])
    // More than the contract's bytes is not even asked for.
    let over = SlotExtent(packs: 4, bytes: 1001, root: [UInt8](repeating: 6, count: 32))
    #expect(core.onMessage(from: owner, .storeSlot(contract: contract, slot: slot, from: 2, to: over, bytes: 401),
                           sent: now, now: now).isEmpty)
    // Nor a slot the contract is not for.
    #expect(core.onMessage(from: owner, .storeSlot(contract: contract, slot: SlotID(volume: VolumeID(7), index: 2),
                                                   from: 0, to: first, bytes: 600), sent: now, now: now).isEmpty)
}
