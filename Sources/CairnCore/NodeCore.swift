import CairnWire
/// A node's protocol parameters (from the network's configuration).
public struct NodeParams: Sendable {
    /// The code of the packs this node makes by default. Each pack carries its own
    /// geometry (`addPack`); `k`, `n` and `repairTrigger` here only set how far below its
    /// n a pack may fall before it is repaired (`repairTrigger(for:)`).
    public var k: Int
    public var n: Int
    public var heartbeatInterval: Interval
    public var challengeInterval: Interval
    public var challengeTimeout: Interval
    public var repairInterval: Interval
    public var repairTimeout: Interval
    public var term: Interval
    public var grace: Interval
    public var uptimeThresholdPermille: UInt16
    /// Repair a pack when fewer than this many of its shards are healthy.
    public var repairTrigger: Int
    /// Fetch misses before a holder is reported for refusing.
    public var fetchMissesMax: Int
    /// Messages stamped further than this from the node's clock are refused, and so are
    /// proposals whose start is (see `Instant`). Well under the hour by which audits end
    /// before a grace period does, so two clocks within it agree on every deadline.
    public var maxClockSkew: Interval

    public init(k: Int, n: Int, heartbeatInterval: Interval = .hours(1),
                challengeInterval: Interval = .days(1), challengeTimeout: Interval = .minutes(10),
                repairInterval: Interval = .hours(6), repairTimeout: Interval = .hours(6), term: Interval = .days(365),
                grace: Interval = .days(7), uptimeThresholdPermille: UInt16 = 850, repairTrigger: Int? = nil,
                fetchMissesMax: Int = 2, maxClockSkew: Interval = .minutes(5))
    {
        precondition(k > 0 && k <= n && n <= ProtocolLimits.shardsPerPackMax, "k=\(k) n=\(n)")
        self.k = k
        self.n = n
        self.heartbeatInterval = heartbeatInterval
        self.challengeInterval = challengeInterval
        self.challengeTimeout = challengeTimeout
        self.repairInterval = repairInterval
        self.repairTimeout = repairTimeout
        self.term = term
        self.grace = grace
        self.uptimeThresholdPermille = uptimeThresholdPermille
        self.repairTrigger = repairTrigger ?? n
        self.fetchMissesMax = fetchMissesMax
        self.maxClockSkew = maxClockSkew
        precondition(maxClockSkew >= .zero && maxClockSkew < .hours(1), "clock skew bound \(maxClockSkew)")
        precondition(self.repairTrigger > k && self.repairTrigger <= n, "repair trigger \(self.repairTrigger) for k=\(k) n=\(n)")
    }

    /// Repair a pack of geometry `g` when fewer than this many of its shards are healthy:
    /// as many below its n as `repairTrigger` is below `n`, and always above its k.
    public func repairTrigger(for g: PackGeometry) -> Int {
        RepairPlanner.trigger(for: g, n: n, trigger: repairTrigger)
    }
}

/// Where a contract sits among the packs this node owns.
struct SlotRef: Hashable, Sendable {
    var pack: Int
    var slot: Int
}

/// One slot (shard index) of a pack this node owns.
public struct OwnedSlot: Hashable, Sendable {
    public enum Pending: Hashable, Sendable { case proposing, accepted, storing }

    // Stored properties are ordered so that they pack into 88 bytes: every slot of every
    // pack is read on each repair tick and uptime reply.
    public var holder: NodeID? = nil
    /// The holder looks unhealthy (uptime, exclusion, refused fetches).
    public var unhealthy = false
    /// The holder proved it lost the data.
    public var failed = false
    /// The holder said it does not have the shard (never ask it again).
    public var noData = false
    public var contract: ContractID? = nil
    /// When `contract`'s term ends, kept here so that the uptime check of every slot (each
    /// repair tick) does not look the contract up in the book.
    public var contractEnd: Instant? = nil
    /// A replacement being placed.
    public var pending: Pending? = nil
    public var pendingHolder: NodeID? = nil
    public var fetchMisses = 0
    public var pendingContract: ContractID? = nil
    public var pendingKey: [UInt8] = []
    public var pendingSince = Instant.zero

    var health: RepairPlanner.Health {
        guard holder != nil else { return .empty }
        if failed { return .failed }
        return unhealthy ? .unhealthy : .healthy
    }
}

/// A released holder that still keeps shard `index` of a pack during its grace period.
public struct GraceSource: Hashable, Sendable {
    public var index: UInt8
    public var holder: NodeID
}

/// A pack this node owns: the roots it keeps for challenges and where each shard lives.
public struct OwnedPack: Hashable, Sendable {
    public let id: PackID
    public let geometry: PackGeometry
    public let roots: [[UInt8]]
    public var shardBytes: UInt64 { geometry.shardBytes }
    public var slots: [OwnedSlot]
    /// The owner still has the pack from the initial upload.
    public var localCopy = true
    /// Shards fetched for a rebuild (bit per slot); ≥ k means rebuilt data is at hand.
    public var fetchedMask: UInt64 = 0
    public var fetchRequests: [UInt64: Int] = [:]
    /// Fetches from holders released in good faith that still owe their grace period: a
    /// last resort when the slots' holders cannot supply k shards.
    public var graceRequests: [UInt64: GraceSource] = [:]
    /// Grace holders that answered they no longer have the shard (not asked again).
    public var graceRefused: [NodeID] = []
    public var fetchDeadline: Instant? = nil
    public var matchRequested: Instant? = nil
    public var repairing = false
    public var lost = false
    /// Holders released recently (never place this pack there again while they keep it).
    public var recentHolders: [NodeID] = []
}

/// The node's protocol brain: contract book, placement requests, challenges, uptime-driven
/// repair, grace, as one pure state machine. The node actor (production) and the simulator
/// feed it messages and timer ticks with the current time and carry out its actions.
public struct NodeCore: Sendable {
    public let me: NodeID
    public let params: NodeParams
    /// Upload speed in kilobits per second (placement prefers holders of similar speed).
    public let speed: UInt32
    public private(set) var book: ContractBook
    public private(set) var challenges = ChallengeScheduler()
    public private(set) var packs: [OwnedPack] = []
    private var packIndex: [PackID: Int] = [:]
    private var slotOfContract: [ContractID: SlotRef] = [:]
    /// Released, stored contracts audited until their grace ends.
    private var audits: [ContractID: (holder: NodeID, shard: ShardID, root: [UInt8], segments: UInt32, until: Instant)] = [:]
    /// Replacements given up while their shard was being stored: the holder may have it
    /// (only the acknowledgement was lost) and then keeps it for the grace period. Not
    /// audited (it may never have received the shard), but a last-resort source until then.
    private var unconfirmed: [ContractID: (holder: NodeID, shard: ShardID, until: Instant)] = [:]
    /// Releases not yet acknowledged, with retries left.
    /// Releases not yet acknowledged: the holder may still hold the shard as if the
    /// contract were active (it was offline), so it is also a last-resort source.
    private var releasing: [ContractID: (holder: NodeID, shard: ShardID, at: Instant, retries: Int)] = [:]
    private var pendingMatches: [UInt64: Int] = [:]
    private var nextRequest: UInt64 = 1
    private var rng: Xoshiro256
    private let signer: any ContractSigner
    private let verifier: any SignatureVerifier
    /// The coordinator's public key: repair mandates must check against it.
    private let coordinatorKey: [UInt8]
    public private(set) var standing: Reputation.Standing = .good
    /// The disk was lost since the last join: announce it.
    private var diskLost = false
    /// Blind repairs this node carries out for away owners, by pack.
    private var delegations: [PackID: Delegation] = [:]
    private var delegatedContracts: [ContractID: PackID] = [:]
    private var delegateCounter: UInt32 = 0

    /// A blind repair in progress on this node (the repairer side).
    struct Delegation: Sendable {
        var owner: NodeID
        var geometry: PackGeometry
        var shardBytes: UInt64 { geometry.shardBytes }
        var k: Int { geometry.k }
        var sources: [NodeID]
        var targets: [RepairTarget]
        var fetchedMask: UInt64 = 0
        var fetchRequests: [UInt64: Int] = [:]
        /// Proposed contracts: id → (target index, terms, delegate signature, accepted).
        var proposals: [ContractID: (target: Int, terms: ContractTerms, signature: [UInt8], holderSignature: [UInt8]?)] = [:]
        var deadline: Instant
        var counter: UInt32 = 0
    }

    /// Time to push every upload in flight through this node's link (refreshed each repair tick).
    private var uploadBacklog = Interval.zero

    public init(me: NodeID, params: NodeParams, offered: UInt64, speed: UInt32, reciprocityRatio: Double,
                signer: any ContractSigner, verifier: any SignatureVerifier, coordinatorKey: [UInt8], rng: Xoshiro256)
    {
        precondition(reciprocityRatio > 0, "reciprocity ratio \(reciprocityRatio)")
        self.me = me
        self.params = params
        self.speed = speed
        self.rng = rng
        self.signer = signer
        self.verifier = verifier
        self.coordinatorKey = coordinatorKey
        book = ContractBook(me: me, offered: offered, placementBudget: UInt64(min(Double(offered) / reciprocityRatio, Double(UInt64.max / 2))))
    }

    /// Adds a pack this node has just made (roots of its n shards).
    public mutating func addPack(_ id: PackID, geometry: PackGeometry, roots: [[UInt8]]) {
        precondition(roots.count == geometry.n, "pack \(id) with \(roots.count) roots, n=\(geometry.n)")
        precondition(packIndex[id] == nil && packs.count < ProtocolLimits.packsPerNodeMax, "pack \(id) added twice or too many")
        packIndex[id] = packs.count
        packs.append(OwnedPack(id: id, geometry: geometry, roots: roots,
                               slots: Array(repeating: OwnedSlot(), count: geometry.n)))
    }

    private func jitter(_ interval: Interval, _ rng: inout Xoshiro256) -> Interval {
        Interval(milliseconds: Int64(rng.bounded(UInt64(max(interval.milliseconds, 1)))))
    }

    // MARK: Start and resume

    /// The node starts (or comes back online): join, arm timers, resume placement.
    public mutating func onStart(now: Instant) -> [Action] {
        var actions = [Action]()
        actions.append(.send(to: .coordinator, .join(offered: book.offered, speed: speed, publicKey: signer.publicKey,
                                                     fresh: diskLost)))
        diskLost = false
        actions.append(.send(to: .coordinator, .heartbeat(used: book.reservedBytes)))
        actions.append(.setTimer(.heartbeat, at: now + params.heartbeatInterval))
        actions.append(.setTimer(.challenge, at: now + jitter(params.challengeInterval, &rng)))
        actions.append(.setTimer(.repair, at: now + jitter(params.repairInterval, &rng)))
        for p in packs.indices where !packs[p].lost {
            requestMatch(pack: p, now: now, into: &actions)
        }
        return actions
    }

    /// The disk was lost and the node reinstalled: everything held for others is gone.
    public mutating func onDiskLost() {
        book.loseHeld()
        diskLost = true
    }

    // MARK: Timers

    public mutating func onTimer(_ timer: TimerKind, now: Instant) -> [Action] {
        var actions = [Action]()
        onTimer(timer, now: now, into: &actions)
        return actions
    }

    /// `onTimer` appending to a caller's buffer.
    public mutating func onTimer(_ timer: TimerKind, now: Instant, into actions: inout [Action]) {
        switch timer {
        case .heartbeat:
            let (freed, entered) = book.expire(now: now)
            for c in entered {
                if case .grace(let until) = c.state { actions.append(.note(.released(c.terms.shard, graceUntil: until))) }
            }
            for c in freed {
                actions.append(.deleteShard(c.terms.shard))
                actions.append(.note(.freed(c.terms.shard)))
            }
            actions.append(.send(to: .coordinator, .heartbeat(used: book.reservedBytes)))
            actions.append(.setTimer(.heartbeat, at: now + params.heartbeatInterval))
        case .challenge:
            _ = challenges.sweep(now: now)
            for p in packs.indices where !packs[p].lost {
                for s in packs[p].slots.indices {
                    guard let holder = packs[p].slots[s].holder, let contract = packs[p].slots[s].contract,
                          !packs[p].slots[s].failed
                    else { continue }
                    let msg = challenges.issue(
                        contract: contract, holder: holder, shard: ShardID(pack: packs[p].id, index: UInt8(s)),
                        segments: packs[p].geometry.segments, root: packs[p].roots[s], audit: false, now: now,
                        timeout: params.challengeTimeout, rng: &rng)
                    actions.append(.send(to: holder, msg))
                }
            }
            for id in unconfirmed.keys.sorted() where unconfirmed[id]!.until <= now {
                unconfirmed[id] = nil
            }
            for id in audits.keys.sorted() {
                let a = audits[id]!
                if a.until <= now {
                    audits[id] = nil
                    book.drop(ownedID: id)
                    continue
                }
                // Both sides end the grace period at `until`: stop auditing early enough that
                // no challenge reaches a holder that has just freed the shard as promised.
                guard now + params.challengeTimeout + .hours(1) < a.until else { continue }
                let msg = challenges.issue(contract: id, holder: a.holder, shard: a.shard,
                                           segments: a.segments, root: a.root, audit: true, now: now,
                                           timeout: params.challengeTimeout, rng: &rng)
                actions.append(.send(to: a.holder, msg))
            }
            actions.append(.setTimer(.challenge, at: now + params.challengeInterval))
        case .repair:
            // One pass over the slots, read in place (iterating `packs` by value copied every
            // pack and retained its arrays): the holders to ask about, and the uploads in flight.
            var holders = [NodeID]()
            var backlogBytes: UInt64 = 0
            for p in packs.indices where !packs[p].lost {
                var storing: UInt64 = 0
                for s in packs[p].slots.indices {
                    if let h = packs[p].slots[s].holder { holders.append(h) }
                    if packs[p].slots[s].pending == .storing { storing += 1 }
                }
                backlogBytes += storing * packs[p].shardBytes
            }
            holders.sort()
            var unique = [NodeID]()
            for h in holders where unique.last != h { unique.append(h) }
            if unique.count > ProtocolLimits.nodesPerMessageMax { unique.removeLast(unique.count - ProtocolLimits.nodesPerMessageMax) }
            let request = nextRequest
            nextRequest += 1
            actions.append(.send(to: .coordinator, .uptimeQuery(request: request, nodes: unique)))
            for id in releasing.keys.sorted() {
                var r = releasing[id]!
                actions.append(.send(to: r.holder, .release(contract: id, at: r.at)))
                r.retries -= 1
                releasing[id] = r.retries > 0 ? r : nil
            }
            uploadBacklog = transferTime(bytes: backlogBytes)
            for pack in delegations.keys.sorted() where delegations[pack]!.deadline <= now {
                endDelegation(pack, now: now, into: &actions)
            }
            for p in packs.indices where !packs[p].lost {
                expirePending(pack: p, now: now, into: &actions)
                requestMatch(pack: p, now: now, into: &actions)
            }
            actions.append(.setTimer(.repair, at: now + params.repairInterval))
        case .expiry, .uptimeSlot, .restore:
            break
        }
    }

    /// Abandons replacements, matches and fetches that took longer than the repair timeout.
    private mutating func expirePending(pack p: Int, now: Instant, into actions: inout [Action]) {
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
    private func transferTime(bytes: UInt64) -> Interval {
        Interval(milliseconds: Int64(min(bytes * 8 / UInt64(max(speed, 1)), UInt64(Int64.max / 2))))
    }

    private mutating func abandon(pack p: Int, slot s: Int, contract: ContractID, holder: NodeID, now: Instant,
                                  into actions: inout [Action])
    {
        let releasedAt = book.owned[contract].map { min(now, $0.terms.end) } ?? now
        if packs[p].slots[s].pending == .storing, let c = book.owned[contract] {
            unconfirmed[contract] = (holder, c.terms.shard, releasedAt + c.terms.grace)
        }
        _ = book.release(ownedID: contract, now: now)
        book.drop(ownedID: contract)
        slotOfContract[contract] = nil
        releasing[contract] = (holder, ShardID(pack: packs[p].id, index: UInt8(s)), releasedAt, ProtocolLimits.releaseRetriesMax)
        actions.append(.send(to: holder, .release(contract: contract, at: releasedAt)))
        packs[p].recentHolders.append(holder)
        clearPending(pack: p, slot: s)
    }

    /// Releases the contract of a slot whose shard now lives on a new holder. A holder
    /// released in good faith (not one that proved it lost the shard) owes its grace period:
    /// that promise is audited, and until it ends the holder is a last-resort source for
    /// the shard (`graceSources`).
    private mutating func releaseReplaced(pack p: Int, slot s: Int, contract old: ContractID, holder oldHolder: NodeID,
                                          now: Instant, into actions: inout [Action])
    {
        let oldFailed = packs[p].slots[s].failed
        let releasedAt = book.owned[old].map { min(now, $0.terms.end) } ?? now
        if let released = book.release(ownedID: old, now: now), released.stored, !oldFailed,
           case .grace(let until) = released.state
        {
            audits[old] = (oldHolder, released.terms.shard, packs[p].roots[s], packs[p].geometry.segments, until)
        } else {
            book.drop(ownedID: old)
        }
        slotOfContract[old] = nil
        releasing[old] = (oldHolder, ShardID(pack: packs[p].id, index: UInt8(s)), releasedAt, ProtocolLimits.releaseRetriesMax)
        packs[p].recentHolders.append(oldHolder)
        actions.append(.send(to: oldHolder, .release(contract: old, at: releasedAt)))
    }

    private mutating func clearPending(pack p: Int, slot s: Int) {
        packs[p].slots[s].pending = nil
        packs[p].slots[s].pendingHolder = nil
        packs[p].slots[s].pendingContract = nil
        packs[p].slots[s].pendingKey = []
    }

    // MARK: Placement and repair (owner side)

    private func slotNeedsReplacement(_ slot: OwnedSlot) -> Bool {
        slot.pending == nil && (slot.holder == nil || slot.failed || slot.unhealthy)
    }

    private func haveData(_ p: Int) -> Bool {
        packs[p].localCopy || packs[p].fetchedMask.nonzeroBitCount >= packs[p].geometry.k
    }

    /// Some accepted replacement waits for data that is not at hand.
    private func needsData(_ p: Int) -> Bool {
        !haveData(p) && packs[p].slots.contains { $0.pending == .accepted }
    }

    /// Asks the coordinator for holders for every slot of the pack that the planner says
    /// to re-create (all empty slots during the initial upload).
    private mutating func requestMatch(pack p: Int, now: Instant, into actions: inout [Action]) {
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

    private mutating func onMatchReply(request: UInt64, candidates: [Candidate], now: Instant, into actions: inout [Action]) {
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

    private mutating func sendStore(pack p: Int, slot s: Int, now: Instant, into actions: inout [Action]) {
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
    private mutating func startFetch(pack p: Int, now: Instant, into actions: inout [Action]) {
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
    private mutating func onShardFetched(pack p: Int, index: Int, bytes: UInt64, now: Instant,
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

    /// Holders released in good faith whose grace period has not ended, for pack `p`, in
    /// contract order, one per shard index (those that said they lost it left out).
    private func graceSources(pack p: Int, now: Instant) -> [GraceSource] {
        var out = [GraceSource]()
        var seen: UInt64 = 0
        func consider(_ holder: NodeID, _ shard: ShardID, _ until: Instant) {
            guard shard.pack == packs[p].id, until > now, seen & (1 << UInt64(shard.index)) == 0,
                  !packs[p].graceRefused.contains(holder)
            else { return }
            seen |= 1 << UInt64(shard.index)
            out.append(GraceSource(index: shard.index, holder: holder))
        }
        for id in audits.keys.sorted() {
            let a = audits[id]!
            consider(a.holder, a.shard, a.until)
        }
        for id in unconfirmed.keys.sorted() {
            let u = unconfirmed[id]!
            consider(u.holder, u.shard, u.until)
        }
        for id in releasing.keys.sorted() {
            let r = releasing[id]!
            consider(r.holder, r.shard, Instant(milliseconds: Int64.max))
        }
        return out
    }

    /// Shard indices of pack `p` that no fetchable slot supplies but that were fetched
    /// already or can be fetched from a holder in its grace period.
    private func extraSources(pack p: Int, now: Instant) -> Int {
        var covered: UInt64 = 0
        for s in packs[p].slots.indices {
            let h = packs[p].slots[s].health
            if h == .healthy || h == .unhealthy { covered |= 1 << UInt64(s) }
        }
        var extra = packs[p].fetchedMask & ~covered
        for g in graceSources(pack: p, now: now) { extra |= (1 << UInt64(g.index)) & ~covered }
        return extra.nonzeroBitCount
    }

    /// Re-plans one pack after fresh health information.
    private mutating func plan(pack p: Int, now: Instant, into actions: inout [Action]) {
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

    private func rootRecord(pack p: Int) -> Action {
        .send(to: .coordinator, .rootRecord(PackLocation(pack: packs[p].id, geometry: packs[p].geometry,
                                                         holders: packs[p].slots.map { $0.holder ?? .coordinator },
                                                         roots: packs[p].roots)))
    }

    private func contractStart(pack p: Int, slot s: Int) -> Instant {
        packs[p].slots[s].contract.flatMap { book.owned[$0]?.terms.start } ?? Instant.zero
    }

    private mutating func markFailed(pack p: Int, slot s: Int, holder: NodeID, fault: FaultKind, now: Instant,
                                     into actions: inout [Action])
    {
        packs[p].slots[s].failed = true
        actions.append(.send(to: .coordinator, .report(holder: holder, fault: fault, since: contractStart(pack: p, slot: s))))
        actions.append(.note(.fault(holder: holder, fault)))
        if let contract = packs[p].slots[s].contract { actions.append(.note(.contractBroken(contract))) }
        plan(pack: p, now: now, into: &actions)
    }

    // MARK: Messages

    /// A message `from` a peer, stamped `sent` by the peer's clock.
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant) -> [Action] {
        var actions = [Action]()
        onMessage(from: from, message, sent: sent, now: now, into: &actions)
        return actions
    }

    /// `onMessage` appending to a caller's buffer (the simulator reuses one for every event).
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant,
                                   into actions: inout [Action])
    {
        guard sent.within(params.maxClockSkew, of: now) else {
            actions.append(.note(.clockSkew(from: from, by: sent - now)))
            return
        }
        switch message {
        // Owner side.
        case let .matchReply(request, _, candidates) where from == .coordinator:
            onMatchReply(request: request, candidates: candidates, now: now, into: &actions)
        case let .accept(contract, signature) where delegatedContracts[contract] != nil:
            onDelegateAccept(contract, signature: signature, from: from, now: now, into: &actions)
        case let .reject(contract, _) where delegatedContracts[contract] != nil:
            if let pack = delegatedContracts.removeValue(forKey: contract) { delegations[pack]?.proposals[contract] = nil }
        case let .storeAck(contract) where delegatedContracts[contract] != nil:
            onDelegateStored(contract, from: from, now: now, into: &actions)
        case let .fetchReply(request, shard, ok, bytes) where delegations[shard.pack]?.fetchRequests[request] != nil:
            onDelegateFetched(request: request, shard: shard, ok: ok, bytes: bytes, from: from, now: now, into: &actions)
        case let .repairOrder(pack, owner, geometry, sources, targets) where from == .coordinator:
            startDelegation(pack: pack, owner: owner, geometry: geometry, sources: sources, targets: targets,
                            now: now, into: &actions)
        case let .adopt(terms, ownerSignature, holderSignature) where from == .coordinator:
            onAdopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature, now: now, into: &actions)
        case let .accept(contract, signature):
            guard let ref = slotOfContract[contract], case (let p, let s) = (ref.pack, ref.slot), packs[p].slots[s].pendingContract == contract,
                  packs[p].slots[s].pendingHolder == from, packs[p].slots[s].pending == .proposing
            else { break }
            if book.onAccept(contract, holderSignature: signature, holderKey: packs[p].slots[s].pendingKey,
                             verifier: verifier)
            {
                packs[p].slots[s].pending = .accepted
                if haveData(p) {
                    sendStore(pack: p, slot: s, now: now, into: &actions)
                } else {
                    startFetch(pack: p, now: now, into: &actions)
                }
            } else {
                slotOfContract[contract] = nil
                clearPending(pack: p, slot: s)
            }
        case let .reject(contract, _):
            guard let ref = slotOfContract[contract], case (let p, let s) = (ref.pack, ref.slot), packs[p].slots[s].pendingContract == contract,
                  packs[p].slots[s].pendingHolder == from
            else { break }
            book.drop(ownedID: contract)
            slotOfContract[contract] = nil
            clearPending(pack: p, slot: s)
            requestMatch(pack: p, now: now, into: &actions)
        case let .storeAck(contract):
            guard let ref = slotOfContract[contract], case (let p, let s) = (ref.pack, ref.slot), packs[p].slots[s].pendingContract == contract,
                  packs[p].slots[s].pendingHolder == from, packs[p].slots[s].pending == .storing
            else { break }
            book.onStoreAck(contract)
            if let old = packs[p].slots[s].contract, let oldHolder = packs[p].slots[s].holder {
                releaseReplaced(pack: p, slot: s, contract: old, holder: oldHolder, now: now, into: &actions)
            }
            packs[p].slots[s] = OwnedSlot(holder: from, contract: contract, contractEnd: book.ownedEnd(contract))
            actions.append(rootRecord(pack: p))
            let done = packs[p].slots.allSatisfy { $0.holder != nil && $0.pending == nil && !$0.failed && !$0.unhealthy }
            if done {
                let initialUpload = packs[p].localCopy
                packs[p].fetchedMask = 0
                packs[p].fetchRequests = [:]
                packs[p].graceRequests = [:]
                packs[p].graceRefused = []
                packs[p].fetchDeadline = nil
                if packs[p].repairing {
                    packs[p].repairing = false
                    if !initialUpload { actions.append(.note(.repairCompleted(packs[p].id))) }
                }
                packs[p].localCopy = false
            }
        case let .challengeReply(id, segment, proof):
            onVerdict(challenges.onReply(id: id, from: from, segment: segment, proof: proof), now: now, into: &actions)
        case let .challengeMissing(id):
            onVerdict(challenges.onMissing(id: id, from: from), now: now, into: &actions)
        case let .fetchReply(request, shard, ok, bytes):
            guard let p = packIndex[shard.pack] else { break }
            if let g = packs[p].graceRequests[request] {
                guard g.holder == from, g.index == shard.index else { break }
                packs[p].graceRequests[request] = nil
                if ok {
                    onShardFetched(pack: p, index: Int(g.index), bytes: bytes, now: now, into: &actions)
                } else {
                    // Its grace audit judges the broken promise; here it is only not asked again.
                    packs[p].graceRefused.append(from)
                    plan(pack: p, now: now, into: &actions)
                }
                break
            }
            guard let s = packs[p].fetchRequests[request], Int(shard.index) == s, packs[p].slots[s].holder == from
            else { break }
            packs[p].fetchRequests[request] = nil
            if ok {
                packs[p].slots[s].fetchMisses = 0
                onShardFetched(pack: p, index: s, bytes: bytes, now: now, into: &actions)
            } else {
                packs[p].slots[s].noData = true
                if !packs[p].slots[s].failed {
                    markFailed(pack: p, slot: s, holder: from, fault: .missing, now: now, into: &actions)
                }
                packs[p].fetchDeadline = nil
                packs[p].fetchRequests = [:]
                packs[p].graceRequests = [:]
                if needsData(p) { startFetch(pack: p, now: now, into: &actions) }
            }
        case let .uptimeReply(_, entries) where from == .coordinator:
            // The coordinator answers in the order asked (sorted, unique): look entries up by
            // binary search; any other order falls back to a dictionary (the last entry for
            // a node wins, as before).
            let sorted = zip(entries, entries.dropFirst()).allSatisfy { $0.node < $1.node }
            var byNode = [NodeID: UptimeEntry]()
            if !sorted { for e in entries { byNode[e.node] = e } }
            func lookup(_ h: NodeID) -> UptimeEntry? {
                guard sorted else { return byNode[h] }
                var lo = 0, hi = entries.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if entries[mid].node < h { lo = mid + 1 } else { hi = mid }
                }
                return lo < entries.count && entries[lo].node == h ? entries[lo] : nil
            }
            for p in packs.indices where !packs[p].lost {
                for s in packs[p].slots.indices {
                    guard let h = packs[p].slots[s].holder, let e = lookup(h) else { continue }
                    // A contract near the end of its term is replaced like an unhealthy one
                    // (renewal by re-placement).
                    assert(packs[p].slots[s].contractEnd == packs[p].slots[s].contract.flatMap { book.ownedEnd($0) },
                           "slot \(s) of pack \(packs[p].id): contract end out of step with the book")
                    let ending = packs[p].slots[s].contractEnd.map { now + params.repairInterval * 2 >= $0 } ?? false
                    let bad = e.excluded || e.permille < params.uptimeThresholdPermille || ending
                        || packs[p].slots[s].fetchMisses >= params.fetchMissesMax
                    packs[p].slots[s].unhealthy = bad
                }
                plan(pack: p, now: now, into: &actions)
            }
        case let .releaseAck(contract):
            releasing[contract] = nil
        case let .warning(level) where from == .coordinator:
            standing = Reputation.Standing(rawValue: level) ?? .excluded

        // Holder side.
        case let .propose(terms, _, _, _) where !terms.start.within(params.maxClockSkew, of: now):
            // Both sides count the term from its start: a start this node's clock disagrees
            // with would end the contract at another time on each side.
            actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.badTime.rawValue)))
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            // The owner itself (the transport authenticates the sender), or a holder repairing
            // blind on its behalf under the coordinator's mandate for this very placement.
            if from != terms.owner, terms.holder == me,
               !(mandate?.permits(terms, proposer: from, proposerKey: ownerKey, holder: me, now: now,
                                  coordinatorKey: coordinatorKey, verifier: verifier) ?? false)
            {
                actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.unauthorized.rawValue)))
                break
            }
            switch book.onPropose(terms, ownerKey: ownerKey, ownerSignature: ownerSignature, signer: signer,
                                  verifier: verifier, proposer: from)
            {
            case .success(let signature):
                actions.append(.send(to: from, .accept(contract: terms.id, holderSignature: signature)))
            case .failure(let refusal):
                actions.append(.send(to: from, .reject(contract: terms.id, reason: refusal.reason.rawValue)))
            }
        case let .storeShard(contract, shard, geometry, root):
            guard let c = book.held[contract], c.proposer == from || c.terms.owner == from,
                  c.terms.bytes == geometry.shardBytes, book.onStore(contract, shard: shard)
            else { break }
            actions.append(.storeShard(shard, geometry: geometry, root: root))
            actions.append(.send(to: from, .storeAck(contract: contract)))
        case let .challenge(id, shard, segment):
            if book.holdsStored(shard) {
                actions.append(.answerChallenge(to: from, id: id, shard: shard, segment: segment))
            } else {
                actions.append(.send(to: from, .challengeMissing(id: id)))
            }
        case let .fetch(request, shard):
            if book.holdsStored(shard) {
                actions.append(.serveFetch(to: from, request: request, shard: shard))
            } else {
                actions.append(.send(to: from, .fetchReply(request: request, shard: shard, ok: false, bytes: 0)))
            }
        case let .release(contract, at):
            guard let c = book.held[contract], c.terms.owner == from else {
                actions.append(.send(to: from, .releaseAck(contract: contract)))
                break
            }
            // The grace period runs from the owner's release, so both sides agree on its
            // end (a holder that was offline meanwhile has less of it left); an owner
            // cannot extend it by naming a later instant.
            if let until = book.onRelease(contract, now: now, releasedAt: min(at, now)) {
                actions.append(.note(.released(c.terms.shard, graceUntil: until)))
            }
            actions.append(.send(to: from, .releaseAck(contract: contract)))
        default:
            break
        }
    }

    private mutating func onVerdict(_ verdict: ChallengeScheduler.Verdict, now: Instant, into actions: inout [Action]) {
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

    // MARK: Blind repair (repairer side)

    private mutating func startDelegation(pack: PackID, owner: NodeID, geometry: PackGeometry, sources: [NodeID],
                                          targets: [RepairTarget], now: Instant, into actions: inout [Action])
    {
        guard delegations[pack] == nil, owner != me, !targets.isEmpty else { return }
        let k = geometry.k
        var d = Delegation(owner: owner, geometry: geometry, sources: sources, targets: targets,
                           deadline: now + params.repairTimeout
                               + transferTime(bytes: UInt64(k + targets.count) * geometry.shardBytes))
        // The shard this node holds counts as fetched.
        for (slot, node) in sources.enumerated() where node == me {
            if book.holdsStored(ShardID(pack: pack, index: UInt8(slot))) {
                d.fetchedMask |= 1 << UInt64(slot)
            }
        }
        var want = k - d.fetchedMask.nonzeroBitCount
        for (slot, node) in sources.enumerated() where want > 0 && node != .coordinator && node != me {
            let request = nextRequest
            nextRequest += 1
            d.fetchRequests[request] = slot
            actions.append(.send(to: node, .fetch(request: request, shard: ShardID(pack: pack, index: UInt8(slot)))))
            want -= 1
        }
        delegations[pack] = d
        if d.fetchedMask.nonzeroBitCount >= k { proposeDelegated(pack, now: now, into: &actions) }
    }

    private mutating func onDelegateFetched(request: UInt64, shard: ShardID, ok: Bool, bytes: UInt64, from: NodeID,
                                            now: Instant, into actions: inout [Action])
    {
        guard var d = delegations[shard.pack], let slot = d.fetchRequests.removeValue(forKey: request),
              Int(shard.index) == slot, d.sources[slot] == from
        else { return }
        let had = d.fetchedMask.nonzeroBitCount >= d.k
        if ok {
            d.fetchedMask |= 1 << UInt64(slot)
            actions.append(.note(.repairBytes(bytes)))
        }
        delegations[shard.pack] = d
        if !had && d.fetchedMask.nonzeroBitCount >= d.k { proposeDelegated(shard.pack, now: now, into: &actions) }
    }

    /// Rebuilt: propose a contract for every target, signed on the owner's behalf.
    private mutating func proposeDelegated(_ pack: PackID, now: Instant, into actions: inout [Action]) {
        guard var d = delegations[pack] else { return }
        for (i, t) in d.targets.enumerated() where t.node != me && t.node != d.owner {
            delegateCounter &+= 1
            let id = ContractID(owner: me, counter: 0x8000_0000 | delegateCounter)
            let terms = ContractTerms(id: id, owner: d.owner, holder: t.node, shard: ShardID(pack: pack, index: t.slot),
                                      bytes: d.shardBytes, start: now, term: params.term, grace: params.grace)
            let signature = signer.sign(terms.signingBytes)
            d.proposals[id] = (i, terms, signature, nil)
            delegatedContracts[id] = pack
            actions.append(.send(to: t.node, .propose(terms: terms, ownerKey: signer.publicKey, ownerSignature: signature,
                                                      mandate: t.mandate)))
        }
        delegations[pack] = d
    }

    private mutating func onDelegateAccept(_ id: ContractID, signature: [UInt8], from: NodeID, now: Instant,
                                           into actions: inout [Action])
    {
        guard let pack = delegatedContracts[id], var d = delegations[pack], var p = d.proposals[id],
              p.terms.holder == from, p.holderSignature == nil
        else { return }
        let target = d.targets[p.target]
        guard verifier.verify(signature: signature, message: p.terms.signingBytes, publicKey: target.publicKey) else {
            d.proposals[id] = nil
            delegatedContracts[id] = nil
            delegations[pack] = d
            return
        }
        p.holderSignature = signature
        d.proposals[id] = p
        delegations[pack] = d
        actions.append(.note(.repairBytes(d.shardBytes)))
        actions.append(.send(to: from, .storeShard(contract: id, shard: p.terms.shard, geometry: d.geometry, root: target.root)))
    }

    private mutating func onDelegateStored(_ id: ContractID, from: NodeID, now: Instant, into actions: inout [Action]) {
        guard let pack = delegatedContracts.removeValue(forKey: id), var d = delegations[pack],
              let p = d.proposals.removeValue(forKey: id), let holderSignature = p.holderSignature, p.terms.holder == from
        else { return }
        actions.append(.send(to: .coordinator, .repairDone(terms: p.terms, ownerSignature: p.signature,
                                                          holderSignature: holderSignature)))
        d.targets[p.target].node = .coordinator
        delegations[pack] = d
        if d.targets.allSatisfy({ $0.node == .coordinator }) { endDelegation(pack, now: now, into: &actions) }
    }

    private mutating func endDelegation(_ pack: PackID, now: Instant, into actions: inout [Action]) {
        guard let d = delegations.removeValue(forKey: pack) else { return }
        for id in d.proposals.keys.sorted() {
            delegatedContracts[id] = nil
            // Accepted but never stored: tell the holder to let it go.
            if let p = d.proposals[id], p.holderSignature != nil {
                actions.append(.send(to: p.terms.holder, .release(contract: id, at: now)))
            }
        }
    }

    // MARK: Blind repair (owner side): adopting what was done while away

    private mutating func onAdopt(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8], now: Instant,
                                  into actions: inout [Action])
    {
        guard terms.owner == me, let p = packIndex[terms.shard.pack], !packs[p].lost,
              Int(terms.shard.index) < packs[p].slots.count
        else { return }
        let s = Int(terms.shard.index)
        if packs[p].slots[s].contract == terms.id { return }
        guard book.adopt(terms, ownerSignature: ownerSignature, holderSignature: holderSignature) else { return }
        if let pending = packs[p].slots[s].pendingContract, let holder = packs[p].slots[s].pendingHolder {
            abandon(pack: p, slot: s, contract: pending, holder: holder, now: now, into: &actions)
        }
        if let old = packs[p].slots[s].contract, let oldHolder = packs[p].slots[s].holder {
            releaseReplaced(pack: p, slot: s, contract: old, holder: oldHolder, now: now, into: &actions)
        }
        packs[p].slots[s] = OwnedSlot(holder: terms.holder, contract: terms.id, contractEnd: terms.end)
        slotOfContract[terms.id] = SlotRef(pack: p, slot: s)
        actions.append(rootRecord(pack: p))
    }

    // MARK: Views for checkers and metrics

    public func ownedContract(_ id: ContractID) -> Contract? { book.owned[id] }
    public var auditCount: Int { audits.count }

    /// Holders audited for a shard of `pack` (diagnostics).
    public func auditedHolders(of pack: PackID) -> [String] {
        audits.keys.sorted().compactMap { id in
            let a = audits[id]!
            return a.shard.pack == pack ? "\(a.holder)/\(a.shard.index)/until=\(a.until.milliseconds)" : nil
        }
    }
}
