import CairnWire
import CairnCore
import Testing

let signerA = DigestSigner(seed: [1])
let signerB = DigestSigner(seed: [2])

// MARK: Contract book

@Test func contractIsSignedByBothAndRespectsBudgetAndPacks() {
    var owner = ContractBook(me: NodeID(1), offered: 1000, placementBudget: 500)
    var holder = ContractBook(me: NodeID(2), offered: 300, placementBudget: 150)
    let shard = SlotID(volume: VolumeID(1), index: 0)
    let c = owner.propose(holder: NodeID(2), shard: shard, bytes: 200, now: .zero, term: .days(30), grace: .days(7),
                          signer: signerA)
    #expect(owner.placedBytes == 200)
    #expect(owner.canPlace(bytes: 300) && !owner.canPlace(bytes: 301))
    let result = holder.onPropose(c.terms, ownerKey: signerA.publicKey, ownerSignature: c.ownerSignature,
                                  signer: signerB, verifier: signerB)
    guard case .success(let sig) = result else {
        Issue.record("refused: \(result)")
        return
    }
    let accepted = owner.onAccept(c.terms.id, holderSignature: sig, holderKey: signerB.publicKey, verifier: signerA)
    #expect(accepted)
    #expect(owner.owned[c.terms.id]?.state == .active)
    #expect(holder.reservedBytes == 200)
    // A second shard of the same volume is refused, as is one that does not fit.
    let c2 = owner.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(1), index: 1), bytes: 50, now: .zero,
                           term: .days(30), grace: .days(7), signer: signerA)
    let r2 = holder.onPropose(c2.terms, ownerKey: signerA.publicKey, ownerSignature: c2.ownerSignature, signer: signerB,
                              verifier: signerB)
    #expect(r2 == .failure(RefusalError(.holdsPack)))
    let c3 = owner.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(2), index: 1), bytes: 150, now: .zero,
                           term: .days(30), grace: .days(7), signer: signerA)
    let r3 = holder.onPropose(c3.terms, ownerKey: signerA.publicKey, ownerSignature: c3.ownerSignature, signer: signerB,
                              verifier: signerB)
    #expect(r3 == .failure(RefusalError(.noSpace)))
    // A forged owner signature is refused.
    let r4 = holder.onPropose(c3.terms, ownerKey: signerA.publicKey, ownerSignature: Array(repeating: 0, count: 64),
                              signer: signerB, verifier: signerB)
    #expect(r4 == .failure(RefusalError(.badSignature)))
}

@Test func graceKeepsThenFrees() {
    var holder = ContractBook(me: NodeID(2), offered: 300, placementBudget: 150)
    let terms = ContractTerms(id: ContractID(owner: NodeID(1), counter: 1), owner: NodeID(1), holder: NodeID(2),
                              shard: SlotID(volume: VolumeID(1), index: 0), bytes: 100, start: .zero, term: .days(30),
                              grace: .days(7))
    _ = holder.onPropose(terms, ownerKey: signerA.publicKey, ownerSignature: signerA.sign(terms.signingBytes),
                         signer: signerB, verifier: signerB)
    let until = holder.onRelease(terms.id, now: Instant.zero + .days(1))
    #expect(until == Instant.zero + .days(8))
    let early = holder.expire(now: Instant.zero + .days(7)).freed
    #expect(early.isEmpty)
    let freed = holder.expire(now: Instant.zero + .days(8)).freed
    #expect(freed.map(\.terms.id) == [terms.id])
    #expect(holder.reservedBytes == 0)
}

/// Both sides end the grace period at the same instant: it runs from the owner's release
/// (a holder that was offline when it was sent has less of it left), from the term's end
/// when that came first, and an owner naming a later instant cannot extend it.
@Test func graceRunsFromTheOwnersRelease() {
    func held() -> (ContractBook, ContractTerms) {
        var holder = ContractBook(me: NodeID(2), offered: 300, placementBudget: 150)
        let terms = ContractTerms(id: ContractID(owner: NodeID(1), counter: 1), owner: NodeID(1), holder: NodeID(2),
                                  shard: SlotID(volume: VolumeID(1), index: 0), bytes: 100, start: .zero, term: .days(30),
                                  grace: .days(7))
        _ = holder.onPropose(terms, ownerKey: signerA.publicKey, ownerSignature: signerA.sign(terms.signingBytes),
                             signer: signerB, verifier: signerB)
        return (holder, terms)
    }
    var (late, terms) = held()
    #expect(late.onRelease(terms.id, now: .zero + .days(3), releasedAt: .zero + .days(1)) == .zero + .days(8))
    var (future, _) = held()
    #expect(future.onRelease(terms.id, now: .zero + .days(1), releasedAt: .zero + .days(20)) == .zero + .days(8))
    // The owner side agrees: released after the term's end, grace still counts from the end.
    var owner = ContractBook(me: NodeID(1), offered: 300, placementBudget: 300)
    let c = owner.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(1), index: 0), bytes: 100, now: .zero,
                          term: .days(30), grace: .days(7), signer: signerA)
    let released = owner.release(ownedID: c.terms.id, now: .zero + .days(32))
    #expect(released?.state == .grace(until: .zero + .days(37)))
}

// MARK: Uptime window and reputation

@Test func uptimeWindowSlides() {
    var w = UptimeWindow(slots: 10)
    #expect(w.permille == 1000)
    for i in 0..<10 { w.record(answered: i < 9) }
    #expect(w.permille == 900)
    for _ in 0..<10 { w.record(answered: false) }
    #expect(w.permille == 0)
    for _ in 0..<9 { w.record(answered: true) }
    #expect(w.permille == 900)
    var big = UptimeWindow(slots: 200)
    for i in 0..<400 { big.record(answered: i % 4 != 0) }
    #expect(big.permille == 750)
}

@Test func reputationWarnsThenExcludes() {
    var r = Reputation()
    var steps = [Reputation.Standing?]()
    for fault in [FaultKind.badProof, .badProof, .missing, .missing] {
        steps.append(r.onFault(fault, now: .zero, warnAt: 2, excludeAt: 3))
    }
    #expect(steps == [nil, .warned, .excluded, nil])
}

// MARK: Repair planner

@Test func plannerRepairsBelowTriggerAndDeclaresLossOnlyBelowK() {
    typealias H = RepairPlanner.Health
    let all: [H] = Array(repeating: .healthy, count: 6)
    #expect(RepairPlanner.decide(all, k: 3, trigger: 5, haveData: false) == .keep)
    let two: [H] = [.healthy, .healthy, .healthy, .healthy, .unhealthy, .failed]
    #expect(RepairPlanner.decide(two, k: 3, trigger: 5, haveData: false) == .repair([4, 5]))
    let one: [H] = [.healthy, .healthy, .healthy, .healthy, .healthy, .failed]
    #expect(RepairPlanner.decide(one, k: 3, trigger: 5, haveData: false) == .keep)
    let offline: [H] = [.unhealthy, .unhealthy, .unhealthy, .failed, .failed, .failed]
    #expect(RepairPlanner.decide(offline, k: 3, trigger: 5, haveData: false) == .repair([0, 1, 2, 3, 4, 5]))
    let gone: [H] = [.unhealthy, .unhealthy, .failed, .failed, .failed, .empty]
    #expect(RepairPlanner.decide(gone, k: 3, trigger: 5, haveData: false) == .lost)
}

// MARK: Placement

@Test func placementNeverPicksOwnerExcludedOrFullNodes() {
    var entries = [DirectoryEntry]()
    var members = [NodeID]()
    for i in 0..<40 {
        var e = DirectoryEntry(slots: 24)
        e.joined = true
        e.offered = i % 5 == 0 ? 10 : 1000
        e.speed = UInt32(100 + i)
        e.lastSeen = .zero
        if i == 7 { for _ in 0..<4 { _ = e.reputation.onFault(.badProof, now: .zero, warnAt: 2, excludeAt: 3) } }
        entries.append(e)
        members.append(NodeID(UInt32(i)))
    }
    var rng = Xoshiro256(seed: 11)
    for _ in 0..<50 {
        let chosen = Placement.choose(.init(owner: NodeID(1), count: 8, slotBytes: 100, speed: 120,
                                            exclude: [NodeID(2), NodeID(3)]),
                                      members: members, entries: entries, now: .zero, thresholdPermille: 850,
                                      recentWithin: .hours(2), rng: &rng)
        #expect(chosen.count == 8)
        #expect(Set(chosen).count == 8)
        for n in chosen {
            #expect(n != NodeID(1) && n != NodeID(2) && n != NodeID(3) && n != NodeID(7))
            #expect(n.raw % 5 != 0)
        }
    }
}

// MARK: Ed25519 contract signatures

@Test func ed25519ContractsVerifyAndForgeriesFail() throws {
    let owner = try Ed25519Signer(seed: Array(repeating: 1, count: 32))
    let holderKey = try Ed25519Signer(seed: Array(repeating: 2, count: 32))
    let verifier = Ed25519Verifier()
    var book = ContractBook(me: NodeID(1), offered: 100, placementBudget: 100)
    var holder = ContractBook(me: NodeID(2), offered: 100, placementBudget: 100)
    let c = book.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(1), index: 0), bytes: 10, now: .zero,
                         term: .days(1), grace: .days(1), signer: owner)
    #expect(c.ownerSignature.count == 64)
    #expect(owner.sign(c.terms.signingBytes) == c.ownerSignature)
    let forged = holder.onPropose(c.terms, ownerKey: holderKey.publicKey, ownerSignature: c.ownerSignature,
                                  signer: holderKey, verifier: verifier)
    #expect(forged == .failure(RefusalError(.badSignature)))
    guard case .success(let sig) = holder.onPropose(c.terms, ownerKey: owner.publicKey, ownerSignature: c.ownerSignature,
                                                    signer: holderKey, verifier: verifier)
    else {
        Issue.record("a valid proposal was refused")
        return
    }
    let accepted = book.onAccept(c.terms.id, holderSignature: sig, holderKey: holderKey.publicKey, verifier: verifier)
    #expect(accepted)
}

/// At the bound on contracts an owner places nothing more — `canPlace` says no, so the
/// core leaves the slot waiting — instead of trapping in `propose`.
@Test func theContractBoundIsARefusalNotATrap() {
    var owner = ContractBook(me: NodeID(1), offered: 1 << 40, placementBudget: 1 << 40)
    for i in 0..<ProtocolLimits.contractsPerNodeMax {
        #expect(owner.canPlace(bytes: 1))
        _ = owner.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(owner: NodeID(1), number: UInt32(i)), index: 0),
                          bytes: 1, now: .zero, term: .days(30), grace: .days(7), signer: signerA)
    }
    #expect(owner.owned.count == ProtocolLimits.contractsPerNodeMax)
    #expect(!owner.canPlace(bytes: 1), "one contract past the bound was allowed")
    #expect(owner.placedBytes == UInt64(ProtocolLimits.contractsPerNodeMax))
}
