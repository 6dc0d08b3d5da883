import CairnWire
import CairnCore
import Testing

/// A holder takes a contract in an owner's name from someone else only under the
/// coordinator's mandate for exactly that placement; the coordinator records a blind
/// repair only from the node it ordered. (The accepted path runs end to end in the
/// `owner-away` CI scenario.)
private let coordinator = DigestSigner(seed: [0xc0])
private let repairerSigner = DigestSigner(seed: [2])
private let owner = NodeID(1), repairer = NodeID(2), holder = NodeID(3), stranger = NodeID(4)
private let now = Instant(milliseconds: 50_000)

private func holderCore() -> NodeCore {
    NodeCore(me: holder, params: NodeParams(k: 2, n: 4), offered: 1 << 30, speed: 1000, reciprocityRatio: 1,
             signer: DigestSigner(seed: [3]), verifier: DigestSigner(), coordinatorKey: coordinator.publicKey,
             rng: Xoshiro256(seed: 3))
}

private func terms(slot: UInt8 = 1, holder h: NodeID = holder) -> ContractTerms {
    ContractTerms(id: ContractID(owner: repairer, counter: 0x8000_0001), owner: owner, holder: h,
                  shard: SlotID(volume: VolumeID(owner: owner, number: 7), index: slot), bytes: 1000, start: now, term: .days(30), grace: .days(7))
}

private func mandate(slot: UInt8 = 1, repairer r: NodeID = repairer, holder h: NodeID = holder,
                     expires: Instant = now + .hours(1), by signer: DigestSigner = coordinator) -> BlindRepairMandate
{
    let bytes = BlindRepairMandate.signingBytes(volume: VolumeID(owner: owner, number: 7), slot: slot, owner: owner, repairer: r,
                                           repairerKey: repairerSigner.publicKey, holder: h, expires: expires)
    return BlindRepairMandate(expires: expires, signature: signer.sign(bytes))
}

/// The holder's answer to a proposal of `t` sent by `from`: accepted, or the refusal code.
private func answer(_ t: ContractTerms, from: NodeID, mandate m: BlindRepairMandate?) -> (accepted: Bool, reason: UInt8?) {
    var core = holderCore()
    let actions = core.onMessage(from: from, .propose(terms: t, ownerKey: repairerSigner.publicKey,
                                                       ownerSignature: repairerSigner.sign(t.signingBytes), mandate: m),
                                 now: now)
    for case let .send(to, message) in actions where to == from {
        if case .accept = message { return (true, nil) }
        if case let .reject(_, reason) = message { return (false, reason) }
    }
    Issue.record("no answer to the proposal: \(actions)")
    return (false, nil)
}

@Test func aBlindRepairProposalNeedsTheCoordinatorsMandateForThatPlacement() {
    let unauthorized = ContractBook.Refusal.unauthorized.rawValue
    #expect(answer(terms(), from: repairer, mandate: mandate()).accepted)
    #expect(answer(terms(), from: repairer, mandate: nil).reason == unauthorized)
    // Signed by someone other than the coordinator (here: the repairer itself).
    #expect(answer(terms(), from: repairer, mandate: mandate(by: repairerSigner)).reason == unauthorized)
    // A real mandate shown by another node, for another slot or another holder, or too late.
    #expect(answer(terms(), from: stranger, mandate: mandate()).reason == unauthorized)
    #expect(answer(terms(slot: 2), from: repairer, mandate: mandate()).reason == unauthorized)
    #expect(answer(terms(), from: repairer, mandate: mandate(holder: stranger)).reason == unauthorized)
    #expect(answer(terms(), from: repairer, mandate: mandate(expires: now)).reason == unauthorized)
    // The expiry is signed: moving it later breaks the signature.
    var stretched = mandate()
    stretched.expires = now + .days(30)
    #expect(answer(terms(), from: repairer, mandate: stretched).reason == unauthorized)
}

@Test func theOwnerItselfNeedsNoMandate() {
    var core = holderCore()
    let ownerSigner = DigestSigner(seed: [1])
    let t = ContractTerms(id: ContractID(owner: owner, counter: 1), owner: owner, holder: holder,
                          shard: SlotID(volume: VolumeID(owner: owner, number: 7), index: 0), bytes: 1000, start: now, term: .days(30), grace: .days(7))
    let actions = core.onMessage(from: owner, .propose(terms: t, ownerKey: ownerSigner.publicKey,
                                                        ownerSignature: ownerSigner.sign(t.signingBytes), mandate: nil),
                                 now: now)
    #expect(actions.contains { if case .send(owner, .accept) = $0 { true } else { false } })
    #expect(core.book.held[t.id] != nil)
}

@Test func theCoordinatorIgnoresARepairItDidNotOrder() {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: coordinator,
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    for _ in 0..<5 { _ = c.admit() }
    let keys = (0..<5).map { DigestSigner(seed: [UInt8($0)]) }
    for i in 1..<5 {
        _ = c.onMessage(from: NodeID(UInt32(i)), .join(offered: 1 << 30, speed: 1000, publicKey: keys[i].publicKey,
                                                       fresh: false), now: now)
    }
    let holders = [NodeID(2), NodeID(3), .coordinator, NodeID(4)]
    _ = c.onMessage(from: owner, .rootRecord(VolumeLocation(
        volume: VolumeID(owner: owner, number: 7), layout: VolumeLayout(k: 2, n: 4, packs: 1, slotBytes: 1000),
        holders: holders, stored: [1, 1, 0, 1], roots: Array(repeating: Array(repeating: 9, count: 32), count: 4))),
                    now: now)
    // Node 4 claims to have re-created slot 2 on node 3, with both signatures valid.
    let t = ContractTerms(id: ContractID(owner: stranger, counter: 1), owner: owner, holder: holder,
                          shard: SlotID(volume: VolumeID(owner: owner, number: 7), index: 2), bytes: 1000, start: now, term: .days(30), grace: .days(7))
    let actions = c.onMessage(from: stranger, .blindRepairDone(terms: t, ownerSignature: keys[4].sign(t.signingBytes),
                                                          holderSignature: keys[3].sign(t.signingBytes)),
                              now: now)
    #expect(c.rootRecords[VolumeID(owner: owner, number: 7)]?.holders == holders)
    #expect(c.adoptions[owner] == nil)
    #expect(!actions.contains { if case .note(.blindRepaired) = $0 { true } else { false } })
}
