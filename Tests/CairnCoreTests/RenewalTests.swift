import CairnWire
import CairnCore
import CairnTestSupport
import Foundation
import Testing

// Contracts end: the owner renews each slot before its term is over, in place with the
// holder that keeps it, or by re-placement when that holder will not; at a full budget as
// well as below it. One nobody renews lapses: the owner stops expecting the shard there,
// and never strikes its holder for freeing it after the grace.

private let owner = NodeID(0)
private let term = Interval.days(3)
private let grace = Interval.days(1)
private let params = NodeParams(k: 2, n: 4, challengeInterval: .hours(12), challengeTimeout: .minutes(10),
                                repairInterval: .hours(6), term: term, grace: grace)

/// A volume whose four slots take the owner's whole budget (offered 1000, ratio 1).
private func fullBudget(_ h: inout Harness) -> VolumeID {
    let volume = h.addVolume(1, packs: 2, capacity: 250)
    h.start()
    #expect(h.nodes[0].book.placedBytes == h.nodes[0].book.placementBudget)
    return volume
}

private func faults(_ h: Harness) -> [Note] {
    h.notes.compactMap { $0.0 == owner && { if case .fault = $0 { true } else { false } }($0.1) ? $0.1 : nil }
}

/// Whole slots the owner sent after the history's first `from` deliveries.
private func slotsSent(_ h: Harness, after from: Int) -> Int {
    h.history.dropFirst(from).count { d in
        if d.from == owner, case .storeSlot = d.message { true } else { false }
    }
}

@Test func aHolderRenewsItsSlotInPlaceAtAFullBudgetAndNothingMoves() throws {
    var h = Harness(count: 5, params: params)
    _ = fullBudget(&h)
    let holders = h.nodes[0].volumes[0].slots.map { $0.holder! }
    let first = h.nodes[0].volumes[0].slots.map { $0.contract! }
    let placed = h.history.count
    h.run(for: term + grace + .days(1))

    let slots = h.nodes[0].volumes[0].slots
    #expect(slots.map(\.holder) == holders)
    for (s, slot) in slots.enumerated() {
        let contract = try #require(slot.contract)
        #expect(contract != first[s])
        let terms = try #require(h.nodes[0].ownedContract(contract)?.terms)
        #expect(terms.end > Instant.zero + term, "slot \(s) was not renewed past the first term")
        // The holder took the renewal in place of the first contract.
        #expect(h.nodes[holders[s].index].book.heldContract(for: terms.shard)?.terms.id == contract)
        #expect(h.nodes[holders[s].index].book.held[first[s]] == nil)
        #expect(h.nodes[0].ownedContract(first[s]) == nil)
    }
    // Renewed each time a term neared its end (twice in five days of three-day terms).
    #expect(h.notes.filter { if case .contractRenewed = $0.1 { true } else { false } }.count == 8)
    #expect(!h.notes.contains { if case .contractLapsed = $0.1 { true } else { false } })
    #expect(slotsSent(h, after: placed) == 0, "a renewal in place moved a slot")
    #expect(faults(h).isEmpty)
    #expect(h.nodes[0].book.placedBytes == h.nodes[0].book.placementBudget)
    for holder in holders { #expect(h.nodes[holder.index].book.reservedBytes == 250) }
}

@Test func aRenewalTheHolderNeverSignsIsPlacedElsewhereOnTheSameBudget() throws {
    var h = Harness(count: 9, params: params)
    _ = fullBudget(&h)
    let holders = h.nodes[0].volumes[0].slots.map { $0.holder! }
    // The first holders never answer a renewal in place: each is re-placed through the
    // coordinator, on the budget share of the contract it replaces.
    h.lose = { from, _, message in
        if holders.contains(from), case .accept = message { true } else { false }
    }
    h.run(for: term + grace + .days(1))

    let slots = h.nodes[0].volumes[0].slots
    for (s, slot) in slots.enumerated() {
        let holder = try #require(slot.holder, "slot \(s) lost its holder")
        #expect(!holders.contains(holder))
        let end = try #require(slot.contractEnd)
        #expect(end > Instant.zero + term)
    }
    #expect(!h.notes.contains { if case .contractLapsed = $0.1 { true } else { false } })
    #expect(faults(h).isEmpty)
    #expect(h.nodes[0].book.placedBytes <= h.nodes[0].book.placementBudget)
}

@Test func aContractNobodyRenewsLapsesAndItsHolderIsNeverStruck() throws {
    var h = Harness(count: 5, params: params)
    let volume = fullBudget(&h)
    let holders = h.nodes[0].volumes[0].slots.map { $0.holder! }
    let first = h.nodes[0].volumes[0].slots.map { $0.contract! }
    // No renewal is signed and no other node can take a slot (each holds one already).
    h.lose = { from, _, message in
        if holders.contains(from), case .accept = message { true } else { false }
    }
    h.run(for: term + grace + .days(2))

    // Each slot lapsed at its term's end, its holder then audited until its grace ended
    // and freed the shard as promised: no fault, and no challenge after the term.
    let lapsed = h.notes.compactMap { n -> ContractID? in if case let .contractLapsed(c) = n.1 { c } else { nil } }
    #expect(Set(lapsed) == Set(first))
    #expect(faults(h).isEmpty)
    #expect(!h.history.contains { d in
        if d.to == .coordinator, case .report = d.message { true } else { false }
    })
    let challengesAfter = h.history.filter { d in
        if d.from == owner, case .challenge = d.message, d.at.milliseconds >= (Instant.zero + term + grace).milliseconds {
            true
        } else { false }
    }
    #expect(challengesAfter.isEmpty, "\(challengesAfter.count) challenges after the grace ended")
    for (s, holder) in holders.enumerated() {
        #expect(h.disks[holder.index][SlotID(volume: volume, index: UInt8(s))] == nil, "holder \(holder) kept slot \(s)")
        #expect(h.coordinator.entry(holder)?.reputation.strikes == 0)
    }
    // Every lapsed contract stopped counting.
    #expect(h.nodes[0].book.placedBytes == 0)
}

// MARK: The budget a replacement rides on

/// A 30-day proposal of `bytes` for slot 0 of volume 1 to node `holder`.
private func propose(_ book: inout ContractBook, to holder: UInt32, bytes: UInt64, replacing old: Contract? = nil)
    -> Contract
{
    book.propose(holder: NodeID(holder), shard: SlotID(volume: VolumeID(1), index: 0), bytes: bytes, now: .zero,
                 term: .days(30), grace: .days(7), replacing: old?.terms.id, signer: signerA)
}

@Test func aReplacementRidesOnTheShareOfTheContractItReplaces() {
    var book = ContractBook(me: NodeID(1), offered: 1000, placementBudget: 400)
    let old = propose(&book, to: 2, bytes: 400)
    #expect(!book.canPlace(bytes: 400))
    #expect(book.canPlace(bytes: 400, replacing: old.terms.id))
    #expect(!book.canPlace(bytes: 401, replacing: old.terms.id), "a bigger replacement needs room of its own")
    let new = propose(&book, to: 3, bytes: 400, replacing: old)
    #expect(book.rides(new.terms.id) == old.terms.id)
    #expect(book.placedBytes == 400)
    // One rider per contract.
    #expect(!book.canPlace(bytes: 400, replacing: old.terms.id))
    // The old one released: its share is the new one's.
    _ = book.release(ownedID: old.terms.id, now: .zero)
    #expect(book.placedBytes == 400 && book.rides(new.terms.id) == nil)
    book.drop(ownedID: new.terms.id)
    #expect(book.placedBytes == 0)
}

@Test func aRefusedRiderGivesBackNothingAndTheOldShareStays() {
    var book = ContractBook(me: NodeID(1), offered: 1000, placementBudget: 400)
    let old = propose(&book, to: 2, bytes: 300)
    let rider = propose(&book, to: 3, bytes: 200, replacing: old)
    #expect(book.placedBytes == 300, "room for 100 only: the rider rides")
    book.drop(ownedID: rider.terms.id)
    #expect(book.placedBytes == 300)
    #expect(book.canPlace(bytes: 300, replacing: old.terms.id))
    // A smaller rider left alone counts its own bytes.
    let second = propose(&book, to: 4, bytes: 200, replacing: old)
    book.drop(ownedID: old.terms.id)
    #expect(book.placedBytes == 200 && book.rides(second.terms.id) == nil)
}

@Test func aRidingBookSurvivesItsCheckpointAndADamagedOneIsRefused() throws {
    var book = ContractBook(me: NodeID(1), offered: 1000, placementBudget: 400)
    let old = propose(&book, to: 2, bytes: 400)
    let new = propose(&book, to: 3, bytes: 400, replacing: old)
    let bytes = try JSONCoding.encode(book)
    var back = try JSONCoding.decode(ContractBook.self, from: bytes)
    #expect(back.rides(new.terms.id) == old.terms.id && back.placedBytes == 400)
    back.drop(ownedID: old.terms.id)
    #expect(back.placedBytes == 400)
    // Written before riding existed: no rider.
    var object = try JSONCoding.object(bytes)
    object["riding"] = nil
    let older = try JSONCoding.decode(ContractBook.self, from: try JSONCoding.data(object))
    #expect(older.rides(new.terms.id) == nil)
    // A rider on a contract that is not there is damage, refused.
    object["owned"] = [Any]()
    object["riding"] = try JSONCoding.object(bytes)["riding"]
    #expect(throws: DecodingError.self) { try JSONCoding.decode(ContractBook.self, from: try JSONCoding.data(object)) }
}

// MARK: The holder's side of a renewal in place

@Test func aHolderTakesARenewalInPlaceOnlyFromTheOwnerForTheSlotItHolds() {
    var owner = ContractBook(me: NodeID(1), offered: 1000, placementBudget: 1000)
    var holder = ContractBook(me: NodeID(2), offered: 300, placementBudget: 300)
    let shard = SlotID(volume: VolumeID(1), index: 0)
    func offer(_ c: Contract, from proposer: NodeID? = nil) -> Result<[UInt8], RefusalError> {
        holder.onPropose(c.terms, ownerKey: signerA.publicKey, ownerSignature: c.ownerSignature, signer: signerB,
                         verifier: signerB, proposer: proposer)
    }
    let first = owner.propose(holder: NodeID(2), shard: shard, bytes: 200, now: .zero, term: .days(30), grace: .days(7),
                              signer: signerA)
    #expect((try? offer(first).get()) != nil)
    // Not stored yet: nothing to renew in place.
    let early = owner.propose(holder: NodeID(2), shard: shard, bytes: 200, now: Instant.zero + .days(1), term: .days(30),
                              grace: .days(7), replacing: first.terms.id, signer: signerA)
    #expect(offer(early) == .failure(RefusalError(.holdsPack)))
    owner.drop(ownedID: early.terms.id)
    let stored = holder.onStore(first.terms.id, shard: shard, packs: 3)
    #expect(stored)
    // Another slot of the volume, or a stranger's proposal, is no renewal.
    let other = owner.propose(holder: NodeID(2), shard: SlotID(volume: VolumeID(1), index: 1), bytes: 200,
                              now: Instant.zero + .days(1), term: .days(30), grace: .days(7), signer: signerA)
    #expect(offer(other) == .failure(RefusalError(.holdsPack)))
    let renewal = owner.propose(holder: NodeID(2), shard: shard, bytes: 250, now: Instant.zero + .days(25), term: .days(30),
                                grace: .days(7), replacing: first.terms.id, signer: signerA)
    #expect(offer(renewal, from: NodeID(9)) == .failure(RefusalError(.holdsPack)))
    // Bigger than the holder's room once the old reservation is given back: no space.
    let huge = owner.propose(holder: NodeID(2), shard: shard, bytes: 301, now: Instant.zero + .days(25), term: .days(30),
                             grace: .days(7), signer: signerA)
    #expect(offer(huge) == .failure(RefusalError(.noSpace)))
    // The owner's renewal takes the old contract's place; the packs stay.
    #expect((try? offer(renewal).get()) != nil)
    #expect(holder.held[first.terms.id] == nil)
    #expect(holder.heldContract(for: shard)?.terms.id == renewal.terms.id)
    #expect(holder.storedPacks(shard) == 3 && holder.reservedBytes == 250)
    // Released at once (the owner never heard the accept), the shard is still kept as long
    // as the first contract promised.
    let until = holder.onRelease(renewal.terms.id, now: Instant.zero + .days(25))
    #expect(until == first.terms.graceEnd)
    let early33 = holder.expire(now: Instant.zero + .days(33)).freed
    #expect(early33.isEmpty)
    let atEnd = holder.expire(now: first.terms.graceEnd).freed
    #expect(atEnd.map(\.terms.id) == [renewal.terms.id])
}

/// Books through JSON, and their JSON as objects to damage by hand.
private enum JSONCoding {
    struct NotAnObject: Error {}
    static func encode<T: Encodable>(_ value: T) throws -> Data { try JSONEncoder().encode(value) }
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T { try JSONDecoder().decode(type, from: data) }
    static func object(_ data: Data) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw NotAnObject() }
        return object
    }
    static func data(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
}
