import CairnWire

/// The node's protocol brain: contract book, placement requests, challenges, uptime-driven
/// repair, grace, as one pure state machine. The node actor (production) and the simulator
/// feed it messages and timer ticks with the current time and carry out its actions.
public struct NodeCore: Sendable {
    public let me: NodeID
    public let params: NodeParams
    /// Upload speed in kilobits per second (placement prefers holders of similar speed).
    public let speed: UInt32
    public internal(set) var book: ContractBook
    public internal(set) var challenges = ChallengeScheduler()
    public internal(set) var packs: [OwnedPack] = []
    var packIndex: [PackID: Int] = [:]
    var slotOfContract: [ContractID: SlotRef] = [:]
    /// Released, stored contracts audited until their grace ends.
    var audits: [ContractID: (holder: NodeID, shard: ShardID, root: [UInt8], segments: UInt32, until: Instant)] = [:]
    /// Replacements given up while their shard was being stored: the holder may have it
    /// (only the acknowledgement was lost) and then keeps it for the grace period. Not
    /// audited (it may never have received the shard), but a last-resort source until then.
    var unconfirmed: [ContractID: (holder: NodeID, shard: ShardID, until: Instant)] = [:]
    /// Releases not yet acknowledged, with retries left.
    /// Releases not yet acknowledged: the holder may still hold the shard as if the
    /// contract were active (it was offline), so it is also a last-resort source.
    var releasing: [ContractID: (holder: NodeID, shard: ShardID, at: Instant, retries: Int)] = [:]
    var pendingMatches: [UInt64: Int] = [:]
    var nextRequest: UInt64 = 1
    var rng: Xoshiro256
    let signer: any ContractSigner
    let verifier: any SignatureVerifier
    /// The coordinator's public key: repair mandates must check against it.
    let coordinatorKey: [UInt8]
    public internal(set) var standing: Reputation.Standing = .good
    /// The disk was lost since the last join: announce it.
    var diskLost = false
    /// Blind repairs this node carries out for away owners, by pack.
    var blindRepairs: [PackID: BlindRepair] = [:]
    var blindRepairContracts: [ContractID: PackID] = [:]
    var blindRepairCounter: UInt32 = 0

    /// A blind repair in progress on this node (the repairer side).
    struct BlindRepair: Sendable {
        var owner: NodeID
        var geometry: PackGeometry
        var shardBytes: UInt64 { geometry.shardBytes }
        var k: Int { geometry.k }
        var sources: [NodeID]
        var targets: [BlindRepairTarget]
        var fetchedMask: UInt64 = 0
        var fetchRequests: [UInt64: Int] = [:]
        /// Proposed contracts: id → (target index, terms, the repairer's signature in the owner's name, accepted).
        var proposals: [ContractID: (target: Int, terms: ContractTerms, signature: [UInt8], holderSignature: [UInt8]?)] = [:]
        var deadline: Instant
        var counter: UInt32 = 0
    }

    /// Time to push every upload in flight through this node's link (refreshed each repair tick).
    var uploadBacklog = Interval.zero

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

    func jitter(_ interval: Interval, _ rng: inout Xoshiro256) -> Interval {
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
            for pack in blindRepairs.keys.sorted() where blindRepairs[pack]!.deadline <= now {
                endBlindRepair(pack, now: now, into: &actions)
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
        case let .accept(contract, signature) where blindRepairContracts[contract] != nil:
            onBlindRepairAccept(contract, signature: signature, from: from, now: now, into: &actions)
        case let .reject(contract, _) where blindRepairContracts[contract] != nil:
            if let pack = blindRepairContracts.removeValue(forKey: contract) { blindRepairs[pack]?.proposals[contract] = nil }
        case let .storeAck(contract) where blindRepairContracts[contract] != nil:
            onBlindRepairStored(contract, from: from, now: now, into: &actions)
        case let .fetchReply(request, shard, ok, bytes) where blindRepairs[shard.pack]?.fetchRequests[request] != nil:
            onBlindRepairFetched(request: request, shard: shard, ok: ok, bytes: bytes, from: from, now: now, into: &actions)
        case let .blindRepairOrder(pack, owner, geometry, sources, targets) where from == .coordinator:
            startBlindRepair(pack: pack, owner: owner, geometry: geometry, sources: sources, targets: targets,
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
        case .propose, .storeShard, .challenge, .fetch, .release:
            onHolderMessage(from: from, message, now: now, into: &actions)
        default:
            break
        }
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
