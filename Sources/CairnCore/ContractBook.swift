import CairnWire
/// One contract as one side keeps it.
public struct Contract: Hashable, Sendable, Codable {
    public enum State: Hashable, Sendable, Codable {
        /// Owner side: proposed, no answer yet.
        case proposed
        /// Both signed.
        case active
        /// Released or past its term: the holder keeps the shard until `until`.
        case grace(until: Instant)
    }

    public var terms: ContractTerms
    public var ownerSignature: [UInt8]
    public var holderSignature: [UInt8]
    public var state: State
    /// Holder side: some of the slot has arrived. Owner side: the holder acknowledged it.
    public var stored: Bool
    /// Who proposed it: the owner, or a holder repairing blind on the owner's behalf.
    public var proposer: NodeID
    /// Holder side: the key the owner signed with, when the owner proposed (kept so the
    /// holder can show a coordinator that lost its directory whose slot this is; nil for
    /// a blind repair's contract and in checkpoints from before it was kept).
    public var ownerKey: [UInt8]? = nil
    /// Owner side: the key the holder signed with (kept so that the owner can propose the
    /// contract's renewal to the same holder; nil for adopted contracts and in checkpoints
    /// from before it was kept).
    public var holderKey: [UInt8]? = nil
    /// This contract renewed `of` in place, under which the shard was to be kept until
    /// `keptAtLeastUntil`. The holder keeps it at least that long whatever happens to the
    /// renewal (the owner may never have heard that it was accepted, and still count `of`:
    /// a release of `of` lets this one go), and the owner counts on it as long (audits and
    /// last-resort sources).
    public var renewed: Renewed? = nil

    public struct Renewed: Hashable, Sendable, Codable {
        public var of: ContractID
        public var keptAtLeastUntil: Instant
    }

    public init(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8], state: State, stored: Bool,
                proposer: NodeID? = nil) {
        self.proposer = proposer ?? terms.owner
        self.terms = terms
        self.ownerSignature = ownerSignature
        self.holderSignature = holderSignature
        self.state = state
        self.stored = stored
    }

    /// Owner side: proposed or active, so counted against the placement budget.
    public var isCounted: Bool { state == .proposed || state == .active }

    /// Holder side: when the shard may be freed, if nothing else happens: the end of the
    /// grace (running, or from the term's end), and never before what a renewal took over.
    public var keptUntil: Instant {
        let grace: Instant
        if case .grace(let until) = state { grace = until } else { grace = terms.graceEnd }
        return max(grace, renewed?.keptAtLeastUntil ?? grace)
    }
}

/// Both sides of one node's contracts: those it owns (its shards elsewhere) and those it
/// holds (others' shards here), with the reciprocity budget and the capacity it offers.
/// Pure; all time comes in as `now`.
public struct ContractBook: Sendable, Codable {
    public enum Refusal: UInt8, Sendable {
        case noSpace = 1, holdsPack = 2, badSignature = 3, notForMe = 4
        /// Proposed by someone other than the owner without a valid repair mandate.
        case unauthorized = 5
        /// The proposed start is further from the holder's clock than its skew bound.
        case badTime = 6
    }

    public let me: NodeID
    public let offered: UInt64
    /// How much this node may place on others: offered / reciprocity ratio.
    public let placementBudget: UInt64

    public private(set) var owned: [ContractID: Contract] = [:]
    public private(set) var held: [ContractID: Contract] = [:]
    /// Holder side: which contract holds a shard of each volume (never two of one volume), with
    /// the shard index and whether it arrived — enough to answer a challenge or fetch
    /// without touching the contract. Read on every challenge, hence a `DenseMap`.
    private var heldPacks = DenseMap<VolumeID, HeldShard>()

    struct HeldShard: Hashable, Sendable, Codable {
        var contract: ContractID
        var index: UInt8
        /// Packs of the slot stored here (its first ones).
        var packs: UInt32
    }
    /// Holder side: bytes promised (active or in grace).
    public private(set) var reservedBytes: UInt64 = 0
    /// Owner side: bytes placed or being placed on others.
    public private(set) var placedBytes: UInt64 = 0
    /// Holder side: the earliest instant at which some held contract changes state.
    public private(set) var nextExpiry: Instant? = nil
    private var counter: UInt32 = 0
    /// Owner side: replacement proposals (new → old) that ride on the budget share of the
    /// counted contract they are to replace, so that a slot counts once while its shard
    /// moves. Without it a renewal or a repair at a full budget could never be proposed,
    /// and every volume would lapse at its first term's end (random scenario 858).
    private var riding: [ContractID: ContractID] = [:]

    enum CodingKeys: String, CodingKey {
        case me, offered, placementBudget, owned, held, heldPacks, reservedBytes, placedBytes, nextExpiry, counter, riding
    }

    public init(me: NodeID, offered: UInt64, placementBudget: UInt64) {
        self.me = me
        self.offered = offered
        self.placementBudget = placementBudget
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        me = try c.decode(NodeID.self, forKey: .me)
        offered = try c.decode(UInt64.self, forKey: .offered)
        placementBudget = try c.decode(UInt64.self, forKey: .placementBudget)
        owned = try c.decode([ContractID: Contract].self, forKey: .owned)
        held = try c.decode([ContractID: Contract].self, forKey: .held)
        heldPacks = try c.decode(DenseMap<VolumeID, HeldShard>.self, forKey: .heldPacks)
        reservedBytes = try c.decode(UInt64.self, forKey: .reservedBytes)
        placedBytes = try c.decode(UInt64.self, forKey: .placedBytes)
        nextExpiry = try c.decodeIfPresent(Instant.self, forKey: .nextExpiry)
        counter = try c.decode(UInt32.self, forKey: .counter)
        // Checkpoints from before it: no proposal rides on another.
        riding = try c.decodeIfPresent([ContractID: ContractID].self, forKey: .riding) ?? [:]
        // A damaged checkpoint must not break the accounting later: every rider and the
        // contract it rides on are counted, each ridden once.
        var ridden = Set<ContractID>()
        for (new, old) in riding {
            guard let n = owned[new], let o = owned[old], n.isCounted, o.isCounted, n.terms.shard == o.terms.shard,
                  n.terms.bytes <= o.terms.bytes, riding[old] == nil, ridden.insert(old).inserted
            else {
                throw DecodingError.dataCorruptedError(forKey: .riding, in: c,
                                                       debugDescription: "contract \(new) rides on \(old), which it cannot")
            }
        }
    }

    /// Whether one more contract of `bytes` fits the budget and the bound on contracts: at
    /// either limit the owner places nothing more (the slot waits) rather than trapping.
    public func canPlace(bytes: UInt64) -> Bool {
        placedBytes + bytes <= placementBudget && owned.count < ProtocolLimits.contractsPerNodeMax
    }

    /// Whether a contract of `bytes` may be proposed to replace `old` (the slot's current
    /// contract): within the budget, or on `old`'s share when the budget is full.
    public func canPlace(bytes: UInt64, replacing old: ContractID?) -> Bool {
        canPlace(bytes: bytes) || (owned.count < ProtocolLimits.contractsPerNodeMax && canRide(bytes: bytes, on: old))
    }

    /// `old` is counted, rides on nothing, nothing rides on it, and its share covers `bytes`.
    private func canRide(bytes: UInt64, on old: ContractID?) -> Bool {
        guard let old, let i = owned.index(forKey: old), owned.values[i].isCounted, bytes <= owned.values[i].terms.bytes,
              riding[old] == nil
        else { return false }
        return !riding.values.contains(old)
    }

    /// Whether a proposal rides on another's share (diagnostics and tests).
    public func rides(_ id: ContractID) -> ContractID? { riding[id] }

    // MARK: Owner side

    /// Drafts and signs a proposal. The caller checked `canPlace`; a proposal replacing a
    /// counted contract (`replacing`) takes over that contract's share of the budget when
    /// the budget has no room for it.
    public mutating func propose(holder: NodeID, shard: SlotID, bytes: UInt64, now: Instant, term: Interval,
                                 grace: Interval, replacing old: ContractID? = nil, signer: some ContractSigner) -> Contract {
        let fits = canPlace(bytes: bytes)
        let rides = !fits && canRide(bytes: bytes, on: old)
        precondition(fits || rides,
                     "placement of \(bytes) over budget \(placementBudget) (placed \(placedBytes))")
        precondition(!rides || owned[old!]?.terms.shard == shard, "\(me) riding on a contract of another slot")
        precondition(holder != me, "\(me) proposing to itself")
        precondition(owned.count < ProtocolLimits.contractsPerNodeMax, "\(me) owns \(owned.count) contracts")
        counter &+= 1
        let terms = ContractTerms(id: ContractID(owner: me, counter: counter), owner: me, holder: holder, shard: shard,
                                  bytes: bytes, start: now, term: term, grace: grace)
        let contract = Contract(terms: terms, ownerSignature: signer.sign(terms.signingBytes), holderSignature: [],
                                state: .proposed, stored: false)
        owned[terms.id] = contract
        if let old, rides {
            riding[terms.id] = old
        } else {
            placedBytes += bytes
        }
        return contract
    }

    /// The holder's signature arrived; false when it does not verify (the proposal is dropped).
    public mutating func onAccept(_ id: ContractID, holderSignature: [UInt8], holderKey: [UInt8],
                                  verifier: some SignatureVerifier) -> Bool {
        guard var c = owned[id], c.state == .proposed else { return false }
        guard verifier.verify(signature: holderSignature, message: c.terms.signingBytes, publicKey: holderKey) else {
            drop(ownedID: id)
            return false
        }
        c.holderSignature = holderSignature
        c.holderKey = holderKey
        c.state = .active
        owned[id] = c
        return true
    }

    /// Adopts a contract a repairer made on this owner's behalf while it was away.
    public mutating func adopt(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8]) -> Bool {
        guard terms.owner == me, owned[terms.id] == nil, owned.count < ProtocolLimits.contractsPerNodeMax else { return false }
        owned[terms.id] = Contract(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature,
                                   state: .active, stored: true)
        placedBytes += terms.bytes
        return true
    }

    /// Contracts this node proposes from now on are numbered past `id` (and `margin` more):
    /// an earlier node of this owner numbered them too (restore on a new machine).
    public mutating func numberProposals(past id: ContractID, margin: UInt32) {
        guard id.owner == me else { return }
        let (past, overflow) = UInt32(truncatingIfNeeded: id.raw).addingReportingOverflow(margin)
        counter = max(counter, overflow ? UInt32.max - 1 : past)
    }

    /// The holder renewed `old` in place as `new`: the shard stays there at least as long
    /// as `old` promised, whatever becomes of `new`.
    public mutating func onRenewedInPlace(_ new: ContractID, of old: ContractID) {
        guard let floor = owned[old]?.keptUntil else { return }
        owned[new]?.renewed = Contract.Renewed(of: old, keptAtLeastUntil: floor)
    }

    public mutating func onStoreAck(_ id: ContractID) {
        guard var c = owned[id], c.state == .active else { return }
        c.stored = true
        owned[id] = c
    }

    /// Owner forgets a contract (refused, abandoned, or released and audited).
    public mutating func drop(ownedID id: ContractID) {
        guard let c = owned.removeValue(forKey: id) else { return }
        if c.isCounted { uncount(c) }
    }

    /// A counted contract stops counting. A rider gives back nothing (its share was the
    /// other's); a contract ridden on hands its share to its rider, which from now on counts
    /// its own bytes.
    private mutating func uncount(_ c: Contract) {
        let id = c.terms.id
        if riding.removeValue(forKey: id) != nil { return }
        if let rider = riding.first(where: { $0.value == id })?.key {
            riding[rider] = nil
            placedBytes -= c.terms.bytes - (owned[rider]?.terms.bytes ?? 0)
        } else {
            placedBytes -= c.terms.bytes
        }
    }

    /// Owner ends a contract: it stops counting against the budget, and the holder owes
    /// the grace period (audited until `until`).
    public mutating func release(ownedID id: ContractID, now: Instant) -> Contract? {
        guard var c = owned[id] else { return nil }
        if c.isCounted { uncount(c) }
        // Grace runs from the release or from the end of the term, whichever came first:
        // the holder's own book starts it at the term's end when no release came before.
        // Never before what a renewal in place took over.
        let until = min(now, c.terms.end) + c.terms.grace
        c.state = .grace(until: max(until, c.renewed?.keptAtLeastUntil ?? until))
        owned[id] = c
        return c
    }

    // MARK: Holder side

    /// A proposal arrived: accept (returns the holder's signature) or refuse.
    public mutating func onPropose(_ terms: ContractTerms, ownerKey: [UInt8], ownerSignature: [UInt8],
                                   signer: some ContractSigner, verifier: some SignatureVerifier, proposer: NodeID? = nil)
        -> Result<[UInt8], RefusalError>
    {
        guard terms.holder == me, terms.owner != me else { return .failure(RefusalError(.notForMe)) }
        guard verifier.verify(signature: ownerSignature, message: terms.signingBytes, publicKey: ownerKey) else {
            return .failure(RefusalError(.badSignature))
        }
        if let existing = heldPacks[terms.shard.volume]?.contract {
            // A duplicate of the same proposal (retransmitted) is accepted again idempotently.
            if existing == terms.id, let c = held[existing] { return .success(c.holderSignature) }
            if let renewal = renewInPlace(existing, with: terms, ownerKey: ownerKey, ownerSignature: ownerSignature,
                                          signer: signer, proposer: proposer)
            {
                return renewal
            }
            return .failure(RefusalError(.holdsPack))
        }
        guard reservedBytes + terms.bytes <= offered, held.count < ProtocolLimits.contractsPerNodeMax else {
            return .failure(RefusalError(.noSpace))
        }
        let signature = signer.sign(terms.signingBytes)
        var contract = Contract(terms: terms, ownerSignature: ownerSignature, holderSignature: signature,
                                state: .active, stored: false, proposer: proposer)
        if contract.proposer == terms.owner { contract.ownerKey = ownerKey }
        held[terms.id] = contract
        heldPacks[terms.shard.volume] = HeldShard(contract: terms.id, index: terms.shard.index, packs: 0)
        reservedBytes += terms.bytes
        noteExpiry(terms.end)
        return .success(signature)
    }

    /// The owner itself proposes a new contract for the very slot this node holds for it
    /// under an active contract: a renewal in place. The new contract takes the old one's
    /// place (and its reservation) and the stored packs stay; nothing moves over the
    /// network. The shard is kept at least as long as the old contract promised. Nil when
    /// `terms` is no such renewal (the caller refuses it as holding the pack).
    private mutating func renewInPlace(_ existing: ContractID, with terms: ContractTerms, ownerKey: [UInt8],
                                       ownerSignature: [UInt8], signer: some ContractSigner, proposer: NodeID?)
        -> Result<[UInt8], RefusalError>?
    {
        guard let old = held[existing], old.state == .active, old.terms.owner == terms.owner, old.terms.shard == terms.shard,
              (proposer ?? terms.owner) == terms.owner, terms.start > old.terms.start, terms.end > old.terms.end,
              let stored = heldPacks[terms.shard.volume], stored.packs > 0
        else { return nil }
        guard reservedBytes - old.terms.bytes + terms.bytes <= offered else { return .failure(RefusalError(.noSpace)) }
        let signature = signer.sign(terms.signingBytes)
        var contract = Contract(terms: terms, ownerSignature: ownerSignature, holderSignature: signature,
                                state: .active, stored: true, proposer: terms.owner)
        contract.ownerKey = ownerKey
        contract.renewed = Contract.Renewed(of: existing, keptAtLeastUntil: old.keptUntil)
        held[existing] = nil
        held[terms.id] = contract
        heldPacks[terms.shard.volume] = HeldShard(contract: terms.id, index: terms.shard.index, packs: stored.packs)
        reservedBytes = reservedBytes - old.terms.bytes + terms.bytes
        noteExpiry(terms.end)
        return .success(signature)
    }

    /// The first `packs` packs of the slot of an active held contract are stored; false if
    /// there is no such contract.
    public mutating func onStore(_ id: ContractID, shard: SlotID, packs: UInt32) -> Bool {
        // In place: copying the contract out and back retains and releases its signatures.
        guard let i = held.index(forKey: id), held.values[i].terms.shard == shard, held.values[i].state == .active
        else { return false }
        held.values[i].stored = true
        heldPacks.update(shard.volume) { $0.packs = packs }
        return true
    }

    /// The owner released the contract at `releasedAt` (≤ now): keep the shard for the
    /// grace period from then.
    public mutating func onRelease(_ id: ContractID, now: Instant, releasedAt: Instant? = nil) -> Instant? {
        guard let i = held.index(forKey: id) else { return nil }
        if case .grace = held.values[i].state { return held.values[i].keptUntil }
        let until = min(releasedAt ?? now, now) + held.values[i].terms.grace
        held.values[i].state = .grace(until: until)
        noteExpiry(held.values[i].keptUntil)
        return held.values[i].keptUntil
    }

    /// When an owned contract's term ends, without copying the contract.
    public func ownedEnd(_ id: ContractID) -> Instant? {
        guard let i = owned.index(forKey: id) else { return nil }
        return owned.values[i].terms.end
    }

    /// The held contract covering `shard`, if any.
    /// Whether the shard of a held contract (active or in grace) is here — without copying
    /// the contract.
    public func holdsStored(_ shard: SlotID) -> Bool { storedPacks(shard) > 0 }

    /// How many packs of the slot are here (0: none, or not this slot).
    public func storedPacks(_ shard: SlotID) -> UInt32 {
        guard let h = heldPacks[shard.volume], h.index == shard.index else { return 0 }
        return h.packs
    }

    /// When the shard of `shard` may be freed here (`Contract.keptUntil`), read in place;
    /// nil when none is held.
    public func heldKeptUntil(_ shard: SlotID) -> Instant? {
        guard let id = heldPacks[shard.volume]?.contract, let i = held.index(forKey: id), held.values[i].terms.shard == shard
        else { return nil }
        return held.values[i].keptUntil
    }

    /// The held contract that renewed `id` in place, when `id` itself is no longer held.
    public func heldRenewal(of id: ContractID) -> ContractID? {
        guard held[id] == nil else { return nil }
        // At most one held contract renews a given one (a renewal replaces it), so the
        // order of the search shows nowhere.
        return held.first { $0.value.renewed?.of == id }?.key
    }

    public func heldContract(for shard: SlotID) -> Contract? {
        guard let id = heldPacks[shard.volume]?.contract, let c = held[id], c.terms.shard == shard else { return nil }
        return c
    }

    /// Whether `expire(now:)` would change anything: some held contract's term or grace
    /// has ended by `now`.
    public func expiresBy(_ now: Instant) -> Bool {
        nextExpiry.map { $0 <= now } ?? false
    }

    /// Moves held contracts past their term into grace and frees those past grace.
    /// Returns (contract, freed shard) pairs in contract order; `entered` lists new graces.
    public mutating func expire(now: Instant) -> (freed: [Contract], entered: [Contract]) {
        guard expiresBy(now) else { return ([], []) }
        // One pass in place, in the dictionary's order: only the contracts that change are
        // copied out (a copy retains and releases two signatures, and this runs on every
        // heartbeat after some grace ends). Each step depends on its contract alone and the
        // results are sorted by id, so the order of the pass shows nowhere.
        var freed = [Contract]()
        var entered = [Contract]()
        var next: Instant? = nil
        var i = held.startIndex
        while i != held.endIndex {
            if held.values[i].state == .active, held.values[i].terms.end <= now {
                held.values[i].state = .grace(until: held.values[i].terms.graceEnd)
                entered.append(held.values[i])
            }
            if case .grace = held.values[i].state {
                let until = held.values[i].keptUntil
                if until <= now {
                    freed.append(held.values[i])
                } else {
                    next = min(next ?? until, until)
                }
            } else {
                next = min(next ?? held.values[i].terms.end, held.values[i].terms.end)
            }
            i = held.index(after: i)
        }
        for c in freed {
            held[c.terms.id] = nil
            heldPacks[c.terms.shard.volume] = nil
            reservedBytes -= c.terms.bytes
        }
        freed.sort { $0.terms.id < $1.terms.id }
        entered.sort { $0.terms.id < $1.terms.id }
        nextExpiry = next
        return (freed, entered)
    }

    /// The disk was lost: everything held is gone (what this node owns is recovered from the
    /// network by its phrase, so the owner side stays).
    public mutating func loseHeld() {
        held = [:]
        heldPacks.removeAll()
        reservedBytes = 0
        nextExpiry = nil
    }

    private mutating func noteExpiry(_ at: Instant) {
        nextExpiry = min(nextExpiry ?? at, at)
    }
}

public struct RefusalError: Error, Sendable, Equatable {
    public let reason: ContractBook.Refusal
    public init(_ reason: ContractBook.Refusal) { self.reason = reason }
}
